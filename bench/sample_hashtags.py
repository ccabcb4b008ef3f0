"""What the engine suggests for ten notes of the sample vault: the table in docs/benchmarks.md.

    .venv/bin/python bench/sample_hashtags.py            # writes docs/benchmarks/sample-hashtags.json, then the report

The sample vault (assets/sample-vault, 86 notes of the Foam documentation) is copied to a temporary folder
and indexed there with the shipped model (assets/models/notellm-default.gguf), as the app would; each
note's three suggestions are `VaultIndex.suggest_tags`, timed for every note (the first ask: nothing cached). The vault is shown twice: as it is (19 notes
tagged, 18 of them #recipe) and with every tag taken out (frontmatter dropped, inline #tags cut).
"""

from __future__ import annotations

import datetime
import json
import os
import shutil
import statistics
import sys
import tempfile
import time
from pathlib import Path

REPO = Path(__file__).resolve().parents[1]
SAMPLE_VAULT = REPO / "assets" / "sample-vault"
MODEL = REPO / "assets" / "models" / "notellm-default.gguf"
OUT = REPO / "docs" / "benchmarks" / "sample-hashtags.json"
NOTES = [
    "index.md", "user/features/wikilinks.md", "user/features/graph-view.md", "user/features/backlinking.md",
    "user/features/daily-notes.md", "user/getting-started/sync-notes.md", "user/publishing/publish-to-netlify-with-eleventy.md",
    "user/recipes/how-to-write-recipes.md", "user/publishing/publish-to-gitlab-pages.md", "user/tools/cli/search.md",
]


def suggestions(vault: Path) -> tuple[dict[str, dict], list[float]]:
    """The ten notes' suggestions, and the seconds each of the vault's notes took to get its own."""
    from notellm.engine import VaultIndex

    index = VaultIndex.open(vault, model=MODEL)
    try:
        index.reindex()
        rows = {row.path: row for row in index.notes()}
        seconds = []
        for path in sorted(path for path, row in rows.items() if row.skip_reason is None):
            started = time.perf_counter()
            index.suggest_tags(path, count=3)
            seconds.append(time.perf_counter() - started)
        return {path: {"title": rows[path].title, "tags": rows[path].tags, "suggested": index.suggest_tags(path, count=3)}
                for path in NOTES}, seconds
    finally:
        index.close()


def main() -> None:
    from notellm.training.heldout import untagged_copy

    with tempfile.TemporaryDirectory() as temporary:
        os.environ["NOTELLM_HOME"] = str(Path(temporary) / "home")  # the index goes there, not to the user's
        tagged, tagged_seconds = suggestions(Path(shutil.copytree(SAMPLE_VAULT, Path(temporary) / "tagged")))
        untagged, untagged_seconds = suggestions(untagged_copy(SAMPLE_VAULT, Path(temporary) / "untagged"))
    seconds = tagged_seconds + untagged_seconds
    OUT.write_text(json.dumps({
        "command": ".venv/bin/python bench/sample_hashtags.py", "date": datetime.date.today().isoformat(),
        "model": MODEL.name, "notes": {path: {**tagged[path], "untagged": untagged[path]["suggested"]} for path in NOTES},
        "seconds_per_note": {"mean": statistics.mean(seconds), "max": max(seconds), "notes": len(seconds)},
    }, indent=1, ensure_ascii=False) + "\n", encoding="utf-8")
    sys.path.insert(0, str(REPO / "bench"))
    import report

    report.main([])


if __name__ == "__main__":
    main()
