"""Wall time of the capacity probe the probe issue asks for, and the card's verdicts.

    python scripts/bench_probe.py
"""

from __future__ import annotations

import json
import os
import subprocess
import sys
import tempfile
import time
from pathlib import Path

sys.path.insert(0, str(Path(__file__).resolve().parent))
from benchmd import preamble, write_section  # noqa: E402

from smolopt.report import markdown_table, pct  # noqa: E402

COMMAND = ["smolopt", "probe", "--model", "smollm2-135m", "--task", "sentiment", "--task", "agent_monitor", "--quiet"]


def main() -> None:
    runs = Path(tempfile.mkdtemp(prefix="bench-probe-"))
    start = time.perf_counter()
    subprocess.run([sys.executable, "-m", "smolopt.cli", *COMMAND[1:]], check=True, env={**os.environ, "SMOLOPT_RUNS": str(runs)})
    wall = time.perf_counter() - start
    probe = json.loads(next(runs.glob("*/probe.json")).read_text())
    rows = [[p["task"], pct(p["chance"]), str(p["rule_budget"]), p["verdict"]["label"], p["verdict"]["evidence"]] for p in probe["probes"]]
    body = "\n".join([
        "## Probe: `" + " ".join(COMMAND[:-1]) + "`",
        "",
        preamble() + f"- wall time: {wall / 60:.1f} min for the whole command (target: under 10 minutes on 2 cores)",
        "",
        markdown_table(["task", "chance", "rule budget", "verdict", "evidence"], rows),
    ])
    write_section("bench_probe", body)
    print(body)


if __name__ == "__main__":
    main()
