"""Saving and loading optimized programs: DSPy's own JSON format plus what DSPy leaves out.

DSPy saves instructions and demos per predictor but not a predictor's config, where smolopt keeps
its format (completion, scored, calibrated); the file carries those under a "smolopt" key that
DSPy's loader ignores, so `smolopt eval --program` asks the model exactly as the optimizer did.
It also records the task and each predictor's fields: DSPy would load a sentiment program into a
multiple-choice task without a word and run it with the wrong instruction and field names.
"""

from __future__ import annotations

import json
import os
from pathlib import Path

import dspy

from smolopt.adapters.formats import CONFIG_KEY
from smolopt.candidate import set_format
from smolopt.errors import SmoloptError
from smolopt.tasks import Task

SMOLOPT_KEY = "smolopt"


def save_program(program: dspy.Module, path: Path, task: str = "", adapter: Path | None = None) -> Path:
    """Save `program`; `adapter` (the LoRA its weights were tuned with) is recorded relative to the file."""
    program.save(str(path))
    saved = json.loads(path.read_text(encoding="utf-8"))
    formats = {name: predictor.config[CONFIG_KEY] for name, predictor in program.named_predictors() if CONFIG_KEY in predictor.config}
    saved[SMOLOPT_KEY] = {"task": task, "formats": formats, "fields": fields_of(program)}
    if adapter is not None:
        saved[SMOLOPT_KEY]["adapter"] = os.path.relpath(adapter.resolve(), path.resolve().parent)
    path.write_text(json.dumps(saved, indent=2, ensure_ascii=False), encoding="utf-8")
    return path


def saved_adapter(path: str | Path) -> Path | None:
    """The adapter a saved program was tuned with (it is served with it), or None."""
    path = Path(path)
    if path.is_dir():
        path = path / "program.json"
    try:
        adapter = (json.loads(path.read_text(encoding="utf-8")).get(SMOLOPT_KEY) or {}).get("adapter")
    except (OSError, ValueError, AttributeError):
        return None  # load_program reports an unreadable file with its reason
    return (path.resolve().parent / adapter) if adapter else None


def fields_of(program: dspy.Module) -> dict[str, list[list[str]]]:
    """{predictor: [input field names, output field names]}: what a saved program must match."""
    return {name: [list(p.signature.input_fields), list(p.signature.output_fields)] for name, p in program.named_predictors()}


def load_program(task: Task, path: str | Path) -> dspy.Module:
    """A fresh task program with the saved state applied; a mismatched file is a one-line error."""
    path = Path(path)
    if path.is_dir():
        path = path / "program.json"
    program = task.program()
    try:
        extra = json.loads(path.read_text(encoding="utf-8")).get(SMOLOPT_KEY) or {}
        if extra.get("task") and extra["task"] != task.name:
            raise SmoloptError(f"{path}: a program optimized for task '{extra['task']}', not '{task.name}'")
        if extra.get("fields") and extra["fields"] != fields_of(program):
            raise SmoloptError(f"{path}: its predictors' fields {extra['fields']} do not match task '{task.name}' ({fields_of(program)})")
        program.load(str(path))
    except FileNotFoundError:
        raise SmoloptError(f"{path}: program file not found") from None
    except (json.JSONDecodeError, UnicodeDecodeError, KeyError, ValueError, TypeError, AttributeError) as err:
        raise SmoloptError(f"{path}: not a saved '{task.name}' program ({type(err).__name__}: {err})") from None
    predictors = dict(program.named_predictors())
    for name, text in (extra.get("formats") or {}).items():
        if name not in predictors:
            raise SmoloptError(f"{path}: format for predictor '{name}', which '{task.name}' does not have")
        set_format(predictors[name], text, name)
    return program
