"""A probe run: plan every (model, task), run them in one run directory, write probe.json and the card.

probe.json is rewritten after each (model, task), so a stopped probe keeps the ones finished, and
`resume_probe` asks everything again with the run's cache answering every call already made.
"""

from __future__ import annotations

from collections.abc import Callable
from pathlib import Path
from typing import Any

from smolopt.backends.weights import with_gguf_facts
from smolopt.model_choice import ModelChoice
from smolopt.probe.card import write_card
from smolopt.probe.measure import results_json, run_probe
from smolopt.probe.plan import DEFAULT_EXAMPLES, plan_probe
from smolopt.probe.verdict import TaskProbe
from smolopt.probe.weights import weights_row
from smolopt.registry import load_registry
from smolopt.runs import Run
from smolopt.scaffold import read_config, run_scaffold
from smolopt.tasks import load_task

# progress(done, total, status): examples scored so far over every planned variant
ProbeProgress = Callable[[int, int, str], None]


def probe_run(
    task_refs: list[str],
    models: list[str | None] | list[ModelChoice],
    *,
    examples: int = DEFAULT_EXAMPLES,
    registry: str | Path | None = None,
    run: Run | None = None,
    progress: ProbeProgress | None = None,
    weights: bool = True,
    adapter: str | None = None,
) -> tuple[list[TaskProbe], Path, Run]:
    """Probe every model on every task; returns the probes, the card's path and the run.
    `weights` adds a short tune's measurement to each (model, task) probe after its prompts
    (`smolopt.probe.weights`); `adapter` probes the (embedded) models served with that LoRA adapter.
    A resumed run passes the ModelChoices its config.json recorded."""
    registry_ = load_registry(registry)
    choices = [model if isinstance(model, ModelChoice) else ModelChoice.of(registry_, model, adapter) for model in models or [None]]
    choices = list(dict.fromkeys(choices))
    names = []
    for choice in choices:
        registry_, name = choice.served(registry_)
        names.append(name)
    specs = [registry_.get(name) for name in names]
    tasks = [load_task(ref) for ref in dict.fromkeys(task_refs)]
    plans = [plan_probe(task, with_gguf_facts(spec), examples) for spec in specs for task in tasks]
    config = {
        "tasks": [task.name for task in tasks],
        "task_paths": [str(task.path.resolve()) for task in tasks],
        "models": [choice.to_config(registry_) for choice in choices],
        "examples": examples,
        "weights": weights,
    }
    total = sum(plan.total_steps for plan in plans)
    probes: list[TaskProbe] = []
    with run_scaffold("probe", config, registry_, label="-".join(task.name for task in tasks), resume=run,
                      kept=lambda _: f"{len(probes)} of {len(plans)} (model, task) probes finished and are") as scaffold:
        done = 0
        for plan in plans:
            status = f"{plan.model} · {plan.task.name}"
            step = (lambda index, _total, base=done, status=status: progress(base + index, total, status)) if progress else None
            probes.append(run_probe(plan, scaffold.models.lm(plan.model), progress=step))
            if weights:
                if progress:
                    progress(done + plan.total_steps, total, f"{status} · tuning weights")
                probes[-1].measurements.append(weights_row(plan, scaffold.models, scaffold.run))
            done += plan.total_steps
            scaffold.run.write_json("probe.json", results_json(probes))
    return probes, write_card(probes, scaffold.run.path), scaffold.run


def _probe_arguments(config: dict[str, Any]) -> dict[str, Any]:
    return {"task_refs": config.get("task_paths") or config["tasks"],
            "models": [ModelChoice.from_config(recorded) for recorded in config["models"]],
            "examples": int(config["examples"]), "weights": bool(config["weights"])}


def resume_probe(path: str | Path, *, registry: str | Path | None = None, progress: ProbeProgress | None = None) -> tuple[list[TaskProbe], Path, Run]:
    """Run a stopped probe again as its config.json recorded it; finished calls come from its cache
    (and a tune's finished epochs from its checkpoint)."""
    run, arguments = read_config(path, "probe", _probe_arguments)
    return probe_run(**arguments, registry=registry, run=run, progress=progress)
