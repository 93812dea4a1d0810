"""`smolopt eval`: one program on one task split, in a run directory.

The run scaffold (`smolopt.scaffold`) opens the run, its models and the task's judge; this module
evaluates, keeps each finished example, and writes results.json, report.md and, for free-text
tasks, outputs.md (every text with its score and feedback).
"""

from __future__ import annotations

from pathlib import Path
from typing import Any

from smolopt.adapters.formats import parse_format, seed_format
from smolopt.candidate import set_formats
from smolopt.errors import SmoloptError
from smolopt.evaluation.core import EvalResult, ExampleResult, Progress, evaluate
from smolopt.model_choice import ModelChoice
from smolopt.program_io import load_program, saved_adapter
from smolopt.registry import load_registry
from smolopt.report import eval_report, markdown, outputs_markdown
from smolopt.runs import Run
from smolopt.scaffold import Scaffold, config_task, read_config, run_scaffold, task_config
from smolopt.tasks import load_task

OUTPUTS = "outputs.md"


def run_eval(
    task_ref: str,
    *,
    split: str = "test",
    model: str | ModelChoice | None = None,
    program_path: str | None = None,
    fmt: str | None = None,
    judge: str | None = None,
    refine: int = 1,
    adapter: str | None = None,
    registry: str | Path | None = None,
    run: Run | None = None,
    progress: Progress | None = None,
) -> tuple[EvalResult, Run, list[str]]:
    """`smolopt eval`: one program on one split in a run directory, with its notices.

    `judge`: the model a judged task's metric asks (None: its judge parts are left out, and the
    notices say so). `refine`: generations per example, each retry told the last one's feedback.
    Results are kept as examples finish; when the server goes down for good, the finished ones are
    written to results.json (marked incomplete) and the error names the command that continues.
    A resumed run (`resume_eval`) serves every finished call from the run's cache. `adapter`: a
    LoRA adapter.gguf served on the embedded model (default: the one a tuned program.json records);
    a resumed run passes the ModelChoice its config.json recorded instead of a name and adapter.
    """
    if refine < 1:
        raise SmoloptError(f"--refine must be 1 or more generations per example, not {refine}")
    registry_ = load_registry(registry)
    task = load_task(task_ref)
    if program_path:
        program_path = str(Path(program_path).resolve())  # a resume from another directory reads the same file
    choice = model if isinstance(model, ModelChoice) else ModelChoice.of(registry_, model, adapter or (program_path and saved_adapter(program_path)))
    registry_, served = choice.served(registry_)
    spec = registry_.get(served)
    examples = task.split(split)
    program = load_program(task, program_path) if program_path else task.program()
    if fmt:
        set_formats(program, parse_format(fmt, "--format"))
    config = {**task_config(task), "split": split, "model": choice.to_config(registry_), "program": program_path, "format": fmt,
              "judge": judge, "refine": refine}
    finished: list[ExampleResult] = []

    def keep_finished(scaffold: Scaffold) -> str:
        partial = EvalResult(task.name, spec.name, split, finished, task.labels)
        scaffold.write_results(partial.to_json(), complete=False)
        return f"{len(finished)} of {len(examples)} examples finished and are kept"

    with run_scaffold("eval", config, registry_, label=task.name, resume=run, kept=keep_finished) as scaffold:
        judged = scaffold.judged(task, judge)
        lm = scaffold.models.lm(spec.name)
        if not fmt and not program_path and not lm.text_model.can("chat"):
            set_formats(program, seed_format(chats=False))
            lm.text_model.notice(f"has no chat template (a base model): the task's program is asked as '{seed_format(chats=False)}'")
        result = evaluate(judged, program, examples, lm, split=split, progress=progress, on_result=finished.append, attempts=refine)
        outputs = None
        if task.labels is None:
            outputs = scaffold.run.write_text(OUTPUTS, outputs_markdown(result))
        scaffold.write_results(result.to_json(), markdown(eval_report(result, scaffold.notices, outputs)))
        return result, scaffold.run, scaffold.notices


def _eval_arguments(config: dict[str, Any]) -> dict[str, Any]:
    return {"task_ref": config_task(config), "split": config["split"], "model": ModelChoice.from_config(config["model"]),
            "program_path": config.get("program"), "fmt": config.get("format"), "judge": config.get("judge"),
            "refine": int(config.get("refine") or 1)}


def resume_eval(path: str | Path, *, registry: str | Path | None = None, progress: Progress | None = None) -> tuple[EvalResult, Run, list[str]]:
    """Continue an eval run as its config.json recorded it; finished calls come from its cache."""
    run, arguments = read_config(path, "eval", _eval_arguments)
    return run_eval(**arguments, registry=registry, run=run, progress=progress)
