"""Saving and loading optimized programs in DSPy's own JSON format (instructions and demos per predictor)."""

from __future__ import annotations

import json
from pathlib import Path

import dspy

from smolopt.errors import SmoloptError
from smolopt.tasks import Task


def save_program(program: dspy.Module, path: Path) -> Path:
    program.save(str(path))
    return path


def load_program(task: Task, path: str | Path) -> dspy.Module:
    """A fresh task program with the saved state applied; a mismatched file is a one-line error."""
    path = Path(path)
    if path.is_dir():
        path = path / "program.json"
    program = task.program()
    try:
        program.load(str(path))
    except FileNotFoundError:
        raise SmoloptError(f"{path}: program file not found") from None
    except (json.JSONDecodeError, KeyError, ValueError, TypeError) as err:
        raise SmoloptError(f"{path}: not a saved '{task.name}' program ({type(err).__name__}: {err})") from None
    return program
