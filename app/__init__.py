"""NoteLLM Desktop: a Qt window over `notellm.engine`.

A thin layer: every engine call runs on one background worker (`worker.EngineWorker`), results come
back to the GUI thread through queued signals, and nothing here touches SQLite or llama.cpp.
"""
