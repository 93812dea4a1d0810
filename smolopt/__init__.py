"""smolopt: a local small-model lab. DSPy + GEPA prompt optimization for tiny models.

The Python API (see `smolopt.api`): `lm`, `evaluate`, `Optimizer`, `load_program` (a shipped
program.json as a callable, its model served) and `RawTextAdapter`. They are loaded on first use,
so the `smolopt` command starts without importing DSPy.
"""

from __future__ import annotations

import importlib
from typing import Any

__version__ = "0.1.0"

_API = {"lm": "smolopt.api", "evaluate": "smolopt.api", "Optimizer": "smolopt.api", "RawTextAdapter": "smolopt.adapters", "new_task": "smolopt.newtask", "load_program": "smolopt.api"}
__all__ = list(_API)


def __getattr__(name: str) -> Any:
    if name in _API:
        return getattr(importlib.import_module(_API[name]), name)
    raise AttributeError(f"module 'smolopt' has no attribute {name!r}")
