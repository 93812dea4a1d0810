"""Run directories: where every command keeps its config, calls, cache and results.

    runs/<id>/config.json    what was asked, versions, model specs (no secrets)
    runs/<id>/calls.jsonl    every model call: request body, raw text, usage, latency
    runs/<id>/cache.sqlite   responses by request, so a resumed run repeats no call
    runs/<id>/results.json   what the command found
"""

from __future__ import annotations

import contextlib
import json
import os
import shutil
import platform
import time
from collections.abc import Callable, Iterator
from dataclasses import dataclass
from importlib.metadata import version
from pathlib import Path
from typing import Any

from smolopt.backends import CallCache, CallLog, Models
from smolopt.errors import ServerDown, SmoloptError, found_in
from smolopt.registry import Registry

DEFAULT_RUNS_DIR = Path("runs")


@dataclass
class Run:
    """One run directory and the model connections that log into it."""

    path: Path

    @property
    def id(self) -> str:
        return self.path.name

    def write_json(self, name: str, data: Any) -> Path:
        """Write atomically: a run killed mid-write keeps the previous version of the file."""
        target = self.path / name
        partial = target.with_suffix(target.suffix + ".partial")
        partial.write_text(json.dumps(data, indent=2, ensure_ascii=False, default=str), encoding="utf-8")
        partial.replace(target)
        return target

    def read_json(self, name: str) -> Any:
        return json.loads((self.path / name).read_text(encoding="utf-8"))

    def write_text(self, name: str, text: str) -> Path:
        target = self.path / name
        target.write_text(text, encoding="utf-8")
        return target

    @contextlib.contextmanager
    def discarded_if_unused(self) -> Iterator[Run]:
        """Remove the run directory again when the work inside fails before any model call was
        logged: a dead server or a bad flag should not leave a directory holding only config.json."""
        try:
            yield self
        except BaseException:
            if not (self.path / "calls.jsonl").exists():
                shutil.rmtree(self.path, ignore_errors=True)
            raise

    @contextlib.contextmanager
    def continuable(self, command: str, kept: Callable[[], str], again: str | None = None) -> Iterator[Run]:
        """A dead server or Ctrl-C inside becomes one message: what was kept (`kept()` saves it and
        says so) and the command that continues the run (`again`, default `smolopt <command> --resume
        <run>`). Ctrl-C stays a KeyboardInterrupt (exit 130)."""
        try:
            yield self
        except (Exception, KeyboardInterrupt) as err:
            down = found_in(err, ServerDown) if isinstance(err, Exception) else None
            if down is None and not isinstance(err, KeyboardInterrupt):
                raise
            message = f"{kept()} in {self.path}; continue with: {again or f'smolopt {command} --resume {self.path}'}"
            if down is None:
                raise KeyboardInterrupt(message) from None
            raise SmoloptError(f"{down}; {message}") from None

    def models(self, registry: Registry) -> Models:
        """Model connections whose calls are logged to calls.jsonl and cached in cache.sqlite."""
        return Models(registry, log=CallLog(self.path / "calls.jsonl"), cache=CallCache(self.path / "cache.sqlite"))


def runs_dir() -> Path:
    return Path(os.environ.get("SMOLOPT_RUNS") or DEFAULT_RUNS_DIR)


def new_run(command: str, label: str, config: dict[str, Any]) -> Run:
    """Create runs/<time>-<command>-<label>/ and write its config.json."""
    stamp = time.strftime("%Y%m%d-%H%M%S")
    path = runs_dir() / f"{stamp}-{command}-{label}"
    suffix = 1
    while path.exists():
        suffix += 1
        path = runs_dir() / f"{stamp}-{command}-{label}-{suffix}"
    path.mkdir(parents=True)
    run = Run(path)
    run.write_json("config.json", {
        "command": command,
        **config,
        "versions": {pkg: version(pkg) for pkg in ("smolopt", "dspy", "gepa", "llama_cpp_python")},
        "python": platform.python_version(),
        "created": time.strftime("%Y-%m-%dT%H:%M:%S"),
    })
    return run


def open_run(path: str | Path) -> Run:
    """An existing run directory (for --resume)."""
    path = Path(path)
    if not (path / "config.json").is_file():
        raise SmoloptError(f"{path}: not a smolopt run directory (no config.json)")
    return Run(path)
