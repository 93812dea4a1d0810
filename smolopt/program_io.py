"""Saving and loading optimized programs: DSPy's own JSON format plus each predictor's format.

DSPy saves instructions and demos per predictor but not a predictor's config, where smolopt keeps
its format (completion, scored, calibrated); the file carries those under a "smolopt" key that
DSPy's loader ignores, so `smolopt eval --program` asks the model exactly as the optimizer did.
"""

from __future__ import annotations

import json
from pathlib import Path

import dspy

from smolopt.adapters.formats import CONFIG_KEY
from smolopt.candidate import set_format
from smolopt.errors import SmoloptError
from smolopt.tasks import Task

SMOLOPT_KEY = "smolopt"


def save_program(program: dspy.Module, path: Path, task: str = "") -> Path:
    program.save(str(path))
    saved = json.loads(path.read_text(encoding="utf-8"))
    formats = {name: predictor.config[CONFIG_KEY] for name, predictor in program.named_predictors() if CONFIG_KEY in predictor.config}
    saved[SMOLOPT_KEY] = {"task": task, "formats": formats}
    path.write_text(json.dumps(saved, indent=2, ensure_ascii=False), encoding="utf-8")
    return path


def load_program(task: Task, path: str | Path) -> dspy.Module:
    """A fresh task program with the saved state applied; a mismatched file is a one-line error."""
    path = Path(path)
    if path.is_dir():
        path = path / "program.json"
    program = task.program()
    try:
        program.load(str(path))
        extra = json.loads(path.read_text(encoding="utf-8")).get(SMOLOPT_KEY) or {}
    except FileNotFoundError:
        raise SmoloptError(f"{path}: program file not found") from None
    except (json.JSONDecodeError, KeyError, ValueError, TypeError) as err:
        raise SmoloptError(f"{path}: not a saved '{task.name}' program ({type(err).__name__}: {err})") from None
    predictors = dict(program.named_predictors())
    for name, text in (extra.get("formats") or {}).items():
        if name not in predictors:
            raise SmoloptError(f"{path}: format for predictor '{name}', which '{task.name}' does not have")
        set_format(predictors[name], text, name)
    return program
