"""How the tests run the real `smolopt` command: a subprocess with runs/ in a temp folder."""

from __future__ import annotations

import json
import os
import shutil
import signal
import subprocess
import sys
from pathlib import Path

ROOT = Path(__file__).resolve().parent.parent


def cli_command(*args: str) -> list[str]:
    return [sys.executable, "-m", "smolopt.cli", *args]


def cli_env(tmp_path: Path, **extra: str) -> dict[str, str]:
    """Runs under tmp_path/runs, the repository's tasks, and a wide terminal so tables do not wrap."""
    return {**os.environ, "SMOLOPT_RUNS": str(tmp_path / "runs"), "SMOLOPT_TASKS": str(ROOT / "tasks"), "COLUMNS": "200", **extra}


def small_task(source: str, folder: Path, per_split: int) -> Path:
    """A user's own copy of a shipped task with the first `per_split` rows of each split (fewer model calls)."""
    folder.mkdir(parents=True, exist_ok=True)
    for name in ("task.py", "rules.txt", "references.jsonl"):
        if (ROOT / "tasks" / source / name).exists():
            shutil.copy(ROOT / "tasks" / source / name, folder / name)
    rows = [json.loads(line) for line in (ROOT / "tasks" / source / "data.jsonl").read_text().splitlines() if line.strip()]
    kept = [row for split in ("train", "val", "test") for row in [r for r in rows if r["split"] == split][:per_split]]
    (folder / "data.jsonl").write_text("\n".join(json.dumps(row) for row in kept))
    return folder


def run_smolopt(tmp_path: Path, *args: str, env_extra: dict[str, str] | None = None, timeout: float = 600) -> subprocess.CompletedProcess:
    return subprocess.run(cli_command(*args), capture_output=True, text=True, env=cli_env(tmp_path, **(env_extra or {})),
                          cwd=tmp_path, timeout=timeout)


def start_smolopt(tmp_path: Path, *args: str) -> subprocess.Popen:
    """`smolopt` started as from a terminal, to be stopped midway: Ctrl-C must reach it even when the
    suite itself runs where SIGINT is ignored (a shell's background job), since children inherit that."""
    return subprocess.Popen(cli_command(*args), env=cli_env(tmp_path), cwd=tmp_path, stdout=subprocess.PIPE, stderr=subprocess.PIPE,
                            text=True, preexec_fn=lambda: signal.signal(signal.SIGINT, signal.SIG_DFL))
