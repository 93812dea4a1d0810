"""Shared by the benchmarks: machine description and writing one section of BENCHMARKS.md."""

from __future__ import annotations

import os
import platform
import re
import sys
import time
from pathlib import Path

BENCHMARKS = Path(__file__).resolve().parent.parent / "BENCHMARKS.md"
HEADER = "# Benchmarks\n\nEach section is written by the script it names; rerun the command to refresh it.\n"


def machine() -> str:
    cpu = platform.processor() or platform.machine()
    try:
        for line in Path("/proc/cpuinfo").read_text().splitlines():
            if line.startswith("model name"):
                cpu = line.split(":", 1)[1].strip()
                break
    except OSError:
        pass
    return f"{cpu}, {os.cpu_count()} cores, Python {platform.python_version()}, {platform.system()}"


def preamble() -> str:
    command = "python " + " ".join(["scripts/" + Path(sys.argv[0]).name, *sys.argv[1:]])
    return f"- command: `{command}`\n- machine: {machine()}\n- date: {time.strftime('%Y-%m-%d %H:%M UTC', time.gmtime())}\n"


def write_section(name: str, body: str) -> None:
    """Replace (or append) the section between <!-- name --> markers."""
    text = BENCHMARKS.read_text(encoding="utf-8") if BENCHMARKS.exists() else HEADER
    block = f"<!-- {name} -->\n{body.strip()}\n<!-- /{name} -->"
    pattern = re.compile(rf"<!-- {re.escape(name)} -->.*?<!-- /{re.escape(name)} -->", re.DOTALL)
    text = pattern.sub(lambda _: block, text) if pattern.search(text) else text.rstrip() + "\n\n" + block + "\n"
    BENCHMARKS.write_text(text, encoding="utf-8")
