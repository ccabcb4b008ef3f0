"""A note's most frequent content words (the keyword line a model may be trained to read), and what a content word is."""

from __future__ import annotations

import re
from collections import Counter

WORD = re.compile(r"[^\W\d_][\w'-]{2,}", re.UNICODE)
STOPWORDS = frozenset(
    """about above after again against all also and any are because been before being below between both but can
    could did does doing down during each few for from further had has have having her here hers herself him himself
    his how into its itself just let like make more most much must myself not now off once only other our ours out
    over own same she should some such than that the their theirs them then there these they this those through too
    under until use used uses using very was way well were what when where which while who whom why will with would
    you your yours yourself get gets got one two new see want need first also can't don't it's i'm you're that's""".split()
)

MIN_WORD_CHARS = 3  # shorter Latin-script words are mostly abbreviations and fragments


def is_content_word(word: str) -> bool:
    """A word that can say what a note is about: no stopword, no one- or two-letter word."""
    return len(word) >= MIN_WORD_CHARS and word not in STOPWORDS


def keywords(title: str, text: str, limit: int = 12) -> list[str]:
    """The most frequent content words, title words counted twice."""
    counts: Counter[str] = Counter()
    for weight, source in ((2, title), (1, text)):
        for word in WORD.findall(source.lower()):
            word = word.strip("'-")
            if is_content_word(word) and len(word) <= 30:
                counts[word] += weight
    return [word for word, _ in counts.most_common(limit)]
