"""The Markdown table the link experiments print: one row per variant, its macro Recall@10, then each collection's."""

from __future__ import annotations

import numpy as np


def print_recall_table(heading: str, names: list[str], rows: dict[str, list[float]]) -> None:
    """`rows`: {variant: its R@10 on each collection, in `names` order}."""
    print(f"\n| {heading} | macro | " + " | ".join(names) + " |")
    print("|---|---|" + "---|" * len(names))
    for variant, scores in rows.items():
        print(f"| {variant} | {np.mean(scores):.3f} | " + " | ".join(f"{score:.3f}" for score in scores) + " |")
