"""The tune command's front door: start a tune from flags, or resume one from its config.json."""

from __future__ import annotations

from dataclasses import asdict, replace
from pathlib import Path

from smolopt.errors import SmoloptError
from smolopt.evaluation import Progress
from smolopt.model_choice import ModelChoice
from smolopt.registry import load_registry
from smolopt.runs import new_run
from smolopt.scaffold import config_task, read_config, task_config
from smolopt.tasks import load_task
from smolopt.tune.device import torch_device
from smolopt.tune.result import Tuned
from smolopt.tune.session import prepared_program, run_tune, tunable
from smolopt.tune.train import MIN_TRAIN, EpochProgress, Settings


def start_tune(task_ref: str, *, model: str | None = None, program_path: str | None = None, fmt: str | None = None,
               epochs: int | None = None, rank: int | None = None, merge: bool = False, device: str = "auto",
               registry: str | Path | None = None, epochs_progress: EpochProgress | None = None, progress: Progress | None = None) -> Tuned:
    """`smolopt tune TASK`: everything is checked (device, task, model, program, format) before the run directory exists.
    The run records the device asked (a resume asks again: auto may find another); results.json, the one it trained on."""
    torch_device(device)  # a device torch does not see is refused first, before the task or the model loads
    registry_ = load_registry(registry)
    task = load_task(task_ref)
    choice = ModelChoice.of(registry_, model)
    spec = registry_.get(choice.entry)
    program = prepared_program(task, program_path, fmt)
    tunable(spec)
    if merge and spec.hf:
        raise SmoloptError(f"--merge writes a merged GGUF for servers without adapters; model '{spec.name}' names a Hugging Face folder "
                           "(hf), whose vLLM server loads the adapter folder itself")
    if len(task.split("train")) < MIN_TRAIN:
        raise SmoloptError(f"task '{task.name}': tune needs at least {MIN_TRAIN} training examples, and its train split has {len(task.split('train'))}")
    settings = Settings()
    settings = replace(settings, epochs=epochs or settings.epochs, rank=rank or settings.rank, alpha=2 * (rank or settings.rank), device=device)
    run = new_run("tune", task.name, {**task_config(task), "model": choice.to_config(registry_), "program": program_path and str(Path(program_path).resolve()), "format": fmt,
                                      "settings": asdict(settings), "merge": merge})
    return run_tune(task, program, registry_, spec.name, settings, run, program_path=program_path, merge=merge, epochs=epochs_progress,
                    progress=progress)


def resume_tune(path: str | Path, *, device: str | None = None, registry: str | Path | None = None, epochs: EpochProgress | None = None,
                progress: Progress | None = None) -> Tuned:
    """`smolopt tune --resume runs/<id>`: the same tune, from its last finished epoch, on the device
    the run asked for unless `device` names another (checkpoints hold CPU tensors, so either works)."""
    run, config = read_config(path, "tune", lambda c: (config_task(c), ModelChoice.from_config(c["model"]).entry, c.get("program"), c.get("format"),
                                                      Settings(**{**c["settings"], "modules": tuple(c["settings"]["modules"])}),
                                                      bool(c.get("merge"))))
    task_ref, model, program_path, fmt, settings, merge = config
    settings = replace(settings, device=device or settings.device)
    torch_device(settings.device)  # refused before the model loads, as a new tune is
    registry_ = load_registry(registry)
    task = load_task(task_ref)
    program = prepared_program(task, program_path, fmt)
    return run_tune(task, program, registry_, model, settings, run, program_path=program_path, merge=merge, epochs=epochs, progress=progress)
