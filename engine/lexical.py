"""The words two notes share: one rule for the engine's index and its evaluation.

Notes are matched by BM25 over their terms (engine/term_index.py). Words are Unicode `\\w` runs,
casefolded; a run of Chinese, Japanese or Korean characters, which has no spaces between words, becomes
its overlapping character pairs, so 线性代数 matches 代数. A note's lexical row is its terms,
space-separated; its query is its first `MAX_QUERY_TERMS` distinct terms, OR-ed: BM25 rewards the rare
ones it shares with another note.

Related notes fuse the model's ranking with this one by reciprocal rank (`fuse_ranked`): on collections
no model trained on, that beats either alone (docs/benchmarks.md).
"""

from __future__ import annotations

import re
from typing import Mapping

WORD = re.compile(r"\w+", re.UNICODE)
CJK_RUN = re.compile(r"[\u3040-\u30ff\u3400-\u4dbf\u4e00-\u9fff\uac00-\ud7af\uf900-\ufaff]+")
# A note's query is its first this many distinct terms. More of the note finds more of its partners: on the
# validation collections, model + lexical rose from 0.414 macro R@10 at 64 terms to 0.424 at 128 (0.425-0.426
# at 256 or every term). Chosen by two-fold cross-validation like RRF_K (the halves chose 128 and every
# term; 0.423 out of fold against 0.414 at 64). A query's time grows with its terms; scored in memory
# (engine/term_index.py) 128 of them take well under the `related` budget (docs/engine-speed.md).
MAX_QUERY_TERMS = 128
# Reciprocal-rank fusion's constant. The usual 60 (Cormack, Clarke and Büttcher, SIGIR 2009) flattens the
# top of both lists; on the validation collections a smaller one lets either ranking's first hits through.
# Chosen by two-fold cross-validation over the collections (each half chose k = 5 or 10 for the other):
# 0.374 macro R@10 out of fold against 0.358 at k = 60 (docs/benchmarks.md).
RRF_K = 10
# A term in more than this share of the vault's notes is left out of a note's query: it matches most of
# the vault, which is what a query spends its time on (FTS5 took p95 109 ms at 9,990 real notes with
# them, 19 ms without), BM25 gives it little weight, and it takes a place among the query's first terms from a
# rarer one. Chosen like RRF_K by two-fold cross-validation over the validation collections (each half
# chose 0.05 or 0.1 for the other): model + lexical 0.389-0.400 macro R@10 out of fold against 0.376 with
# every term (docs/benchmarks.md).
COMMON_SHARE = 0.05
COMMON_FLOOR = 5  # and in more than this many notes, so a small vault keeps its words (no validation collection is that small)
# A query's terms may hold at most this many (note, term) pairs between them; past it, its commonest terms
# are left out, those BM25 weighs least. Scoring time grows with the pairs (engine/term_index.py): in a
# 100,000-note vault a 128-term query held up to 213,000 (p95) and took p95 6-9 ms, 2.6-3.0 ms with the
# budget. It can bind only in a vault of over 15,625 notes (MAX_QUERY_TERMS terms in at most COMMON_SHARE
# of the notes each), so it changes no ranking measured on the validation collections or the scale vault.
QUERY_PAIRS_BUDGET = 100_000


def _cjk_pairs(run: str) -> list[str]:
    return [run] if len(run) == 1 else [run[i:i + 2] for i in range(len(run) - 1)]


def terms(text: str) -> list[str]:
    """The text's terms in order: casefolded words, CJK runs as overlapping character pairs."""
    result = []
    for word in WORD.findall(text.casefold()):
        position = 0
        for run in CJK_RUN.finditer(word):
            if run.start() > position:
                result.append(word[position:run.start()])
            result.extend(_cjk_pairs(run.group(0)))
            position = run.end()
        if position < len(word):
            result.append(word[position:])
    return result


def document(title: str, text: str) -> str:
    """What a note's lexical row holds: its terms, space-separated."""
    return " ".join(terms(f"{title}\n{text}"))


def query_terms(note_terms: list[str], limit: int = MAX_QUERY_TERMS, counts: Mapping[str, int] | None = None,
                notes: int = 0) -> list[str]:
    """What a note asks to find the notes it shares words with: its first `limit` distinct terms (of a
    note's `document(...).split()`, or a question's `terms(...)`). With `counts`, in how many of the vault's
    `notes` rows each term occurs (`TermIndex.counts`), terms in more than COMMON_SHARE of them (and more than COMMON_FLOOR) are left out,
    and then the commonest of the rest while they hold more than QUERY_PAIRS_BUDGET (note, term) pairs."""
    distinct = list(dict.fromkeys(note_terms))
    if counts is None:
        return distinct[:limit]
    most = max(COMMON_SHARE * notes, COMMON_FLOOR)
    distinct = [term for term in distinct if counts.get(term, 0) <= most][:limit]
    pairs = sum(counts.get(term, 0) for term in distinct)
    if pairs > QUERY_PAIRS_BUDGET:
        commonest_first = sorted(distinct, key=lambda term: -counts.get(term, 0))
        dropped = set()
        for term in commonest_first:
            if pairs <= QUERY_PAIRS_BUDGET:
                break
            dropped.add(term)
            pairs -= counts.get(term, 0)
        distinct = [term for term in distinct if term not in dropped]
    return distinct


def match_query(note_terms: list[str], limit: int = MAX_QUERY_TERMS, counts: Mapping[str, int] | None = None,
                notes: int = 0) -> str | None:
    """`query_terms` as an SQLite FTS5 MATCH expression (the terms quoted and OR-ed), or None when there are
    none: what the evaluation's BM25 baseline asks."""
    distinct = query_terms(note_terms, limit, counts, notes)
    if not distinct:
        return None
    return " OR ".join('"' + term.replace('"', '""') + '"' for term in distinct)


def fuse_ranked(rankings: list[list[int]], k: int = RRF_K, weights: list[float] | None = None) -> list[tuple[int, float]]:
    """Reciprocal-rank fusion of ranked id lists (best first): each list gives an id weight / (k + rank),
    every weight 1 unless given (`engine.fusion_weight`). It needs no calibration between a cosine and a
    BM25 score. Returns (id, fused score), best first."""
    scores: dict[int, float] = {}
    for ranking, weight in zip(rankings, weights or [1.0] * len(rankings)):
        for rank, item in enumerate(ranking, 1):
            scores[item] = scores.get(item, 0.0) + weight / (k + rank)
    return sorted(scores.items(), key=lambda pair: (-pair[1], pair[0]))
