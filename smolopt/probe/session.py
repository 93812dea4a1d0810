"""A probe run: plan every (model, task), run them in one run directory, write probe.json and the card.

probe.json is rewritten after each (model, task), so a stopped probe keeps the ones finished, and
`resume_probe` asks everything again with the run's cache answering every call already made.
"""

from __future__ import annotations

from collections.abc import Callable
from pathlib import Path

from smolopt.probe.card import write_card
from smolopt.probe.measure import results_json, run_probe
from smolopt.probe.plan import DEFAULT_EXAMPLES, plan_probe
from smolopt.probe.verdict import TaskProbe
from smolopt.registry import load_registry
from smolopt.runs import Run, new_run, open_run
from smolopt.errors import SmoloptError
from smolopt.tasks import load_task

# progress(done, total, status): examples scored so far over every planned variant
ProbeProgress = Callable[[int, int, str], None]


def probe_run(
    task_refs: list[str],
    models: list[str | None],
    *,
    examples: int = DEFAULT_EXAMPLES,
    registry: str | Path | None = None,
    run: Run | None = None,
    progress: ProbeProgress | None = None,
) -> tuple[list[TaskProbe], Path, Run]:
    """Probe every model on every task; returns the probes, the card's path and the run."""
    registry_ = load_registry(registry)
    specs = list({spec.name: spec for spec in (registry_.get(name) for name in models or [None])}.values())
    tasks = [load_task(ref) for ref in dict.fromkeys(task_refs)]
    plans = [plan_probe(task, spec, examples) for spec in specs for task in tasks]
    run = run or new_run("probe", "-".join(task.name for task in tasks), {
        "tasks": [task.name for task in tasks],
        "task_paths": [str(task.path.resolve()) for task in tasks],
        "models": [spec.public() for spec in specs],
        "examples": examples,
    })
    total = sum(plan.total_steps for plan in plans)
    probes: list[TaskProbe] = []
    with run.discarded_if_unused(), run.models(registry_) as connections:
        with run.continuable("probe", lambda: f"{len(probes)} of {len(plans)} (model, task) probes finished and are"):
            done = 0
            for plan in plans:
                status = f"{plan.model} · {plan.task.name}"
                step = (lambda index, _total, base=done, status=status: progress(base + index, total, status)) if progress else None
                probes.append(run_probe(plan, connections.lm(plan.model), progress=step))
                done += plan.total_steps
                run.write_json("probe.json", results_json(probes))
    return probes, write_card(probes, run.path), run


def resume_probe(path: str | Path, *, registry: str | Path | None = None, progress: ProbeProgress | None = None) -> tuple[list[TaskProbe], Path, Run]:
    """Run a stopped probe again as its config.json recorded it; finished calls come from its cache."""
    run = open_run(path)
    try:
        config = run.read_json("config.json")
        if config.get("command") != "probe":
            raise SmoloptError(f"{run.path}: a '{config.get('command')}' run, not a probe run; smolopt probe --resume continues probe runs")
        tasks, models, examples = config.get("task_paths") or config["tasks"], [m["name"] for m in config["models"]], int(config["examples"])
    except (ValueError, KeyError, TypeError, AttributeError) as err:
        raise SmoloptError(f"{run.path / 'config.json'}: not a readable probe config ({type(err).__name__}: {err})") from None
    return probe_run(tasks, models, examples=examples, registry=registry, run=run, progress=progress)
