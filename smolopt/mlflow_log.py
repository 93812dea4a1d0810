"""A finished run folder, logged as one MLflow run (`smolopt --mlflow URI ...`, or $SMOLOPT_MLFLOW).

Logged from the folder after the command has finished, so no command runs differently with MLflow on,
and a resumed run is logged once, when it finishes. What goes where:

    params     config.json: command, task, model(s), budget, seed, ... (a registry record by its entry
               name), and the strings of results.json `summary` (which program shipped, and why)
    metrics    the headline the view's runs list shows (`score`, `score_low`, `score_high`, with the
               seed's beside it: smolopt.view.runs_index), every number of `summary`, each arm's test
               score with its interval (`arm.<name>.*`: tune's arms, optimize --weights lora's), the
               embeddings baseline, the run's own numbers (wall_s, metric_calls, ...), and as steps the
               search's val score per accepted candidate and each tuning epoch's losses
    artifacts  config.json, results.json, report.md, program.json (a probe's card.md and probe.json),
               and the adapter: adapter.gguf, or the adapter/ folder of a model tuned from Hugging Face weights

GEPA's own MLflow logging (gepa.optimize(use_mlflow=True)) stays off, measured with mlflow-skinny 3.18:
an unreachable URI raises before the search starts, so the run would fail for its logging; each
accepted candidate prints "Warning: Failed to log table to mlflow: No module named 'pandas'" to
stdout; and each search opens an MLflow run of its own (two for --weights lora), apart from this one.
The search curve it would log is here as `search.val`.
"""

from __future__ import annotations

import contextlib
import importlib.util
import os
import re
import time
from collections.abc import Iterator
from pathlib import Path
from typing import Any
from urllib.parse import urlparse

from smolopt.baseline import RESULTS_KEY as BASELINE_KEY
from smolopt.errors import SmoloptError
from smolopt.model_choice import recorded_model_names
from smolopt.view.runs_index import RunFolder, read_run

EXTRA = "pip install 'smolopt[mlflow]'"
# The files a run is read by, and its adapter: llama.cpp's file, or the peft folder of a model tuned from
# Hugging Face weights. Not merged.gguf (base and adapter in one file, rebuilt from the two), calls or cache.
ARTIFACTS = ("config.json", "results.json", "report.md", "program.json", "card.md", "probe.json", "adapter.gguf", "adapter")
DEFAULT_EXPERIMENT = "smolopt"  # a probe of several tasks
# MLflow's defaults (7 retries, backoff factor 2: made for a rate-limited hosted server) took 247 s
# to give up on a refused connection at the end of a run; 2 retries gave up in 4 s. A user's own
# MLFLOW_HTTP_REQUEST_MAX_RETRIES wins.
HTTP_RETRIES = "2"


def require_mlflow() -> None:
    """Before any work: --mlflow without the extra is one line saying how to add it."""
    if importlib.util.find_spec("mlflow") is None:
        raise SmoloptError(f"--mlflow (or $SMOLOPT_MLFLOW) needs the mlflow extra: {EXTRA}")


def log_run(run_dir: Path, uri: str) -> str:
    """Log the finished run folder `run_dir` to the MLflow store at `uri`; returns the MLflow run id."""
    run = read_run(Path(run_dir))
    if run.unreadable:
        raise SmoloptError(f"{run_dir}: {run.unreadable}")
    if not run.complete:
        raise SmoloptError(f"{run_dir}: the run has not finished; continue it with --resume, then log it")
    with mlflow_settings(uri):
        return logged(run, uri)


@contextlib.contextmanager
def mlflow_settings(uri: str) -> Iterator[None]:
    """MLflow's settings while smolopt logs (a user's own values win), the environment restored after."""
    # MLflow 3 otherwise sends usage events to its makers (set up when mlflow is first imported, here):
    # smolopt runs locally and sends nothing unasked; off, a log took 3.8 s instead of 5.1 s on an offline machine.
    wanted = {"MLFLOW_HTTP_REQUEST_MAX_RETRIES": HTTP_RETRIES, "MLFLOW_DISABLE_TELEMETRY": "true"}
    if urlparse(uri).scheme in ("", "file"):
        # MLflow 3.13+ refuses its file store unless asked for it; a file: URI given to smolopt is that asking.
        wanted["MLFLOW_ALLOW_FILE_STORE"] = "true"
    added = [name for name in wanted if name not in os.environ]
    os.environ.update({name: wanted[name] for name in added})
    try:
        yield
    finally:
        for name in added:
            os.environ.pop(name, None)


def logged(run: RunFolder, uri: str) -> str:
    """One MLflow run in the task's experiment, named after the run folder; FAILED if logging broke off."""
    from mlflow import MlflowClient
    from mlflow.entities import Metric, Param

    client = MlflowClient(tracking_uri=uri)
    tasks = run.config.get("tasks")
    experiment_name = str(run.config.get("task") or (tasks[0] if isinstance(tasks, list) and len(tasks) == 1 else DEFAULT_EXPERIMENT))
    experiment = client.get_experiment_by_name(experiment_name)
    experiment_id = experiment.experiment_id if experiment else client.create_experiment(experiment_name)
    run_id = client.create_run(experiment_id, run_name=run.id, tags={"smolopt.run_dir": str(run.path.resolve())}).info.run_id
    status = "FAILED"
    try:
        now = int(time.time() * 1000)
        client.log_batch(run_id, params=[Param(name, value) for name, value in params(run.config, run.results or {}).items()],
                         metrics=[Metric(name, value, now, step) for name, value, step in metrics(run)])
        for name in ARTIFACTS:
            if (run.path / name).is_file():
                client.log_artifact(run_id, str(run.path / name))
            elif (run.path / name).is_dir():
                client.log_artifacts(run_id, str(run.path / name), artifact_path=name)
        status = "FINISHED"
    finally:
        client.set_terminated(run_id, status)
    return run_id


def key(name: str) -> str:
    """An MLflow param or metric name: letters, digits and _ - . / : and space (a label or part name may hold others)."""
    return re.sub(r"[^\w\-./: ]", "_", name)


def params(config: dict[str, Any], results: dict[str, Any]) -> dict[str, str]:
    """config.json's settings, flat; a model record by its entry name; no None."""
    found: dict[str, str] = {}
    for name, value in config.items():
        if name in ("model", "models"):
            found[name] = ", ".join(recorded_model_names(config))
        elif name.endswith("_spec"):
            continue  # a registry record (reflection_spec): the entry name is logged beside it
        elif isinstance(value, dict):
            found.update({f"{name}.{inner}": text for inner, item in value.items() if (text := param_text(item)) is not None})
        elif (text := param_text(value)) is not None:
            found[name] = text
    summary = results.get("summary")
    if isinstance(summary, dict):
        found.update({f"summary.{name}": value for name, value in summary.items() if isinstance(value, str)})
    return {key(name): value for name, value in found.items()}


def param_text(value: Any) -> str | None:
    if value is None or isinstance(value, dict):
        return None
    if isinstance(value, list):
        return ", ".join(map(str, value))
    return str(value)


def is_number(value: Any) -> bool:
    return isinstance(value, int | float) and not isinstance(value, bool)


def numbers(prefix: str, data: dict[str, Any]) -> list[tuple[str, float]]:
    """Every number in `data`, nested dicts as prefix.key.inner."""
    found = []
    for name, value in data.items():
        if is_number(value):
            found.append((f"{prefix}{name}", float(value)))
        elif isinstance(value, dict):
            found.extend(numbers(f"{prefix}{name}.", value))
    return found


def interval(prefix: str, accuracy: float, low_high: list[float]) -> list[tuple[str, float]]:
    return [(prefix, float(accuracy)), (f"{prefix}_low", float(low_high[0])), (f"{prefix}_high", float(low_high[1]))]


def metrics(run: RunFolder) -> list[tuple[str, float, int]]:
    """(name, value, step): steps only for the search and the tuning epochs."""
    results: dict[str, Any] = run.results or {}
    weights = results.get("weights") if isinstance(results.get("weights"), dict) else {}
    found: list[tuple[str, float]] = []
    if run.headline is not None:
        found += interval("score", run.headline.score, [run.headline.low, run.headline.high])
        if run.headline.baseline is not None:
            seed = run.headline.baseline
            found += interval("seed", seed.score, [seed.low, seed.high])
    found += [(name, float(value)) for name, value in results.items() if is_number(value)]
    if isinstance(results.get("summary"), dict):
        found += numbers("summary.", results["summary"])
    for arm in results.get("arms") or weights.get("arms") or []:
        found += interval(f"arm.{arm['arm']}.accuracy", arm["accuracy"], arm["interval"])
        found += interval(f"arm.{arm['arm']}.change", arm["change"], arm["change_interval"])
    baseline = results.get(BASELINE_KEY)
    if isinstance(baseline, dict):
        found += interval("baseline", baseline["accuracy"], baseline["interval"])
    stepped = [(key(name), value, 0) for name, value in found]
    for row in results.get("iterations") or []:
        stepped.append(("search.val", float(row["val"]), int(row["iteration"])))
    for epoch in results.get("epochs") or weights.get("epochs") or []:
        stepped += [(f"epoch.{name}", float(value), int(epoch["epoch"])) for name, value in epoch.items() if name != "epoch" and is_number(value)]
    return stepped
