"""How the tests run the real `smolopt` command: a subprocess with runs/ in a temp folder."""

from __future__ import annotations

import json
import os
import shutil
import signal
import subprocess
import sys
import time
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


def stop_midway(tmp_path: Path, args: tuple[str, ...], after_calls: int, how: signal.Signals,
                within_s: float = 300) -> tuple[Path, subprocess.CompletedProcess]:
    """Start `smolopt *args` as from a terminal and stop it with `how` once its run has logged
    `after_calls` model calls. SIGINT is set back to its default in the child, so Ctrl-C reaches it
    even where the suite runs with SIGINT ignored (a shell's background job), which children inherit."""
    runs = tmp_path / "runs"
    before = set(runs.glob("*"))
    process = subprocess.Popen(cli_command(*args), env=cli_env(tmp_path), cwd=tmp_path, stdout=subprocess.PIPE, stderr=subprocess.PIPE,
                               text=True, preexec_fn=lambda: signal.signal(signal.SIGINT, signal.SIG_DFL))
    deadline, run_dir = time.time() + within_s, None
    while time.time() < deadline and run_dir is None:
        fresh = [p for p in runs.glob("*") if p not in before and (p / "calls.jsonl").exists()]
        if fresh and sum(1 for _ in (fresh[0] / "calls.jsonl").open()) >= after_calls:
            run_dir = fresh[0]
        time.sleep(0.05)
    if run_dir is None:
        process.kill()
    assert run_dir is not None, f"smolopt {args[0] if args else ''} never got to {after_calls} calls"
    process.send_signal(how)
    stdout, stderr = process.communicate(timeout=60)
    return run_dir, subprocess.CompletedProcess(process.args, process.returncode, stdout, stderr)


def logged_calls(run_dir: Path) -> list[dict]:
    """The run's calls.jsonl, one dict per model call (cache hits and failed tries included)."""
    return [json.loads(line) for line in (run_dir / "calls.jsonl").read_text().splitlines() if line.strip()]


def sent_requests(calls: list[dict]) -> list[str]:
    """The requests that reached the model and finished, as comparable strings: a resumed run must
    send none of them twice."""
    return [json.dumps(c["request"], sort_keys=True) for c in calls if not c["cached"] and "error" not in c]
