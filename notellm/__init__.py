"""NoteLLM Desktop: related notes and hashtags for a Markdown vault, offline."""

__version__ = "0.1.0"
