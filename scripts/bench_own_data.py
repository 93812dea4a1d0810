"""Your own data, agent monitoring on traces kept apart, the probe and the main job, timed from a clean folder (issue 29).

    python scripts/bench_own_data.py --own      # each labeled table: `smolopt new` + `smolopt optimize NAME --weights lora`
    python scripts/bench_own_data.py --own --csv FILE LABEL [INPUT ...]   # another table (repeat --csv for several)
    python scripts/bench_own_data.py --agent    # optimize agent_monitor --weights lora; its shipped program on 12 kept-apart traces
    python scripts/bench_own_data.py --probe    # smolopt probe --task sentiment --task agent_monitor
    python scripts/bench_own_data.py --main     # smolopt optimize sentiment --weights lora

Run one part at a time, alone on the machine (under the heavy-work lock): the wall times are the
measurement. Every command runs as a newcomer's would, in a fresh folder under /tmp (kept, and named
in the section): no task folders but the repository's (--own: only the one `smolopt new` writes), no
runs and so no call cache, no SMOLOPT_* variables, the shipped registry. Each part rewrites its own
section of BENCHMARKS.md (--own: one per table), so rerunning one part keeps the others; a command
that fails is written as a miss with its error, and the script exits non-zero.

Targets (issue 29): own data: the shipped program >= 90% on the held-back test rows, >= 10 points
above the embeddings + logistic-regression baseline trained on the same rows, new + optimize <= 15 min;
agent monitoring: shipped >= 60% on test and >= 60% on the kept-apart traces (another tool-call
notation, scripts/data/agent_traces_apart.jsonl), optimize <= 15 min; probe < 10 min; main job
>= 94% on test in <= 12 min.
"""

from __future__ import annotations

import argparse
import json
import os
import shlex
import shutil
import subprocess
import sys
import tempfile
import time
from collections import Counter, defaultdict
from collections.abc import Sequence
from dataclasses import dataclass
from pathlib import Path
from typing import Any

sys.path.insert(0, str(Path(__file__).resolve().parent))
from bench_server import other_processes  # noqa: E402
from benchmd import preamble, write_section  # noqa: E402

from smolopt.baseline import METHOD  # noqa: E402
from smolopt.baseline import RESULTS_KEY as BASELINE_KEY  # noqa: E402
from smolopt.baseline import embedding_baseline as compute_baseline  # noqa: E402
from smolopt.jsonl import read_jsonl  # noqa: E402
from smolopt.report import markdown_table, pct, points  # noqa: E402
from smolopt.stats import bootstrap_interval  # noqa: E402
from smolopt.tasks import load_task  # noqa: E402

ROOT = Path(__file__).resolve().parent.parent
TASKS = ROOT / "tasks"
TRACES = ROOT / "scripts" / "data" / "agent_traces_apart.jsonl"
NEWCOMER_UNSET = ("SMOLOPT_TASKS", "SMOLOPT_RUNS", "SMOLOPT_MODELS")  # a newcomer's shell sets none of these
NOT_MEASURED = "not measured"

OWN_SHIPPED, OWN_MARGIN, OWN_WALL_S = 0.90, 0.10, 15 * 60
AGENT_SHIPPED, AGENT_APART, AGENT_WALL_S = 0.60, 0.60, 15 * 60
PROBE_WALL_S = 10 * 60
MAIN_SHIPPED, MAIN_WALL_S = 0.94, 12 * 60

TARGET_HEADERS = ["measure", "value", "target", "", "made by"]
ARM_HEADERS = ["arm", "program", "weights", "test [95% CI]", "change vs seed, points [paired 95% CI]", "val"]


class Missing(Exception):
    """A part could not measure what it reports (a command failed, a file lacks a key): written as a miss."""


@dataclass(frozen=True)
class Table:
    """A labeled file to bring as one's own data: `smolopt new NAME --from path --input … --label label`."""

    path: Path
    label: str
    inputs: tuple[str, ...] = ()

    @property
    def name(self) -> str:
        return self.path.stem

    def new_args(self) -> list[str]:
        return ["new", self.name, "--from", str(self.path), *(a for column in self.inputs for a in ("--input", column)), "--label", self.label]


TABLES = (Table(ROOT / "scripts" / "data" / "helpdesk.csv", "category", ("Customer message",)),
          Table(ROOT / "scripts" / "data" / "reviews_intent.csv", "intent", ("product", "review")))


@dataclass(frozen=True)
class Score:
    """A share with its 95% bootstrap interval, over n examples when known."""

    value: float
    low: float
    high: float
    n: int | None = None

    @classmethod
    def of(cls, scores: Sequence[float]) -> Score:
        return cls(sum(scores) / len(scores), *bootstrap_interval(scores), len(scores)) if scores else cls(0.0, 0.0, 0.0, 0)

    def cell(self) -> str:
        return f"{pct(self.value)} [{pct(self.low)}, {pct(self.high)}]" + (f" (n={self.n})" if self.n is not None else "")


@dataclass
class Ran:
    """One smolopt command: as a user types it, its wall seconds and the run folder it wrote."""

    shown: str
    wall_s: float
    run: Path | None


def in_repo(arg: str | Path) -> str:
    """A path inside the repository as seen from its root; anything else as it is."""
    path = Path(arg)
    return str(path.relative_to(ROOT)) if path.is_absolute() and path.is_relative_to(ROOT) else str(arg)


def shown(args: Sequence[str]) -> str:
    """The command as typed from the repository root."""
    return shlex.join(["smolopt", *map(in_repo, args)])


def smolopt(workdir: Path, *args: str, tasks: Path | None = None) -> Ran:
    """Run the real command in `workdir` (its runs go to workdir/runs), progress passed through to
    stderr; raises Missing with the command's last error line when it fails."""
    env = {key: value for key, value in os.environ.items() if key not in NEWCOMER_UNSET}
    if tasks is not None:
        env["SMOLOPT_TASKS"] = str(tasks)
    runs = workdir / "runs"
    before = set(runs.iterdir()) if runs.is_dir() else set()
    print(f"$ {shown(args)}", file=sys.stderr, flush=True)
    last = "no message"
    started = time.perf_counter()
    with subprocess.Popen([sys.executable, "-m", "smolopt.cli", *args], cwd=workdir, env=env, stderr=subprocess.PIPE, text=True) as child:
        assert child.stderr is not None
        for line in child.stderr:
            sys.stderr.write(line)
            last = line.strip() or last
    wall = time.perf_counter() - started
    if child.returncode != 0:
        raise Missing(f"`{shown(args)}` failed after {wall:.0f} s (exit {child.returncode}): {last}")
    made = sorted(set(runs.iterdir()) - before) if runs.is_dir() else []
    return Ran(shown(args), wall, made[-1] if made else None)


def run_file(ran: Ran, name: str) -> Path:
    """A file the command's run folder must hold (results.json, program.json, probe.json)."""
    if ran.run is None or not (ran.run / name).is_file():
        raise Missing(f"`{ran.shown}` wrote no {name} (run folder: {ran.run or 'none'})")
    return ran.run / name


def results_of(ran: Ran) -> dict[str, Any]:
    """The finished run's results.json."""
    path = run_file(ran, "results.json")
    results = json.loads(path.read_text(encoding="utf-8"))
    if not results.get("complete", True):
        raise Missing(f"{path}: the run did not finish (complete: false)")
    return results


def weights_block(results: dict[str, Any]) -> dict[str, Any]:
    if "weights" not in results:
        raise Missing("results.json has no 'weights' block (was the run made with --weights lora?)")
    return results["weights"]


def arm_score(row: dict[str, Any]) -> Score:
    return Score(row["accuracy"], *row["interval"], row.get("n"))


def shipped(results: dict[str, Any]) -> tuple[str, Score]:
    """The arm that ships and its test score, from an `optimize --weights lora` run's results.json."""
    weights = weights_block(results)
    for row in weights["arms"]:
        if row["arm"] == weights["shipped"]:
            return row["arm"], arm_score(row)
    raise Missing(f"results.json: the shipped arm '{weights['shipped']}' is not among weights.arms")


def arm_rows(results: dict[str, Any]) -> list[list[str]]:
    """Every arm on test, with its val score where the ship decision read one."""
    weights = weights_block(results)
    rows = []
    for row in weights["arms"]:
        low, high = row["change_interval"]
        val = weights.get("val", {}).get(row["arm"])
        name = row["arm"] + (" (shipped)" if row["arm"] == weights["shipped"] else "")
        rows.append([name, row["program"], "adapter" if row["adapter"] else "base", arm_score(row).cell(),
                     f"{points(row['change'])} [{points(low)}, {points(high)}]", pct(val) if val is not None else "not a candidate"])
    return rows


def step_seconds(results: dict[str, Any]) -> str:
    """Where the optimize run's time went, by its own clock."""
    return ", ".join(f"{step} {seconds:.0f} s" for step, seconds in weights_block(results).get("seconds", {}).items())


def recorded_baseline(results: dict[str, Any]) -> Score | None:
    """The embeddings baseline the run recorded (results.json `embeddings_baseline`), or None."""
    block = results.get(BASELINE_KEY)
    if isinstance(block, dict):
        return Score(block["accuracy"], *block["interval"], block.get("n"))
    return None


def embedding_baseline(results: dict[str, Any], task_folder: Path) -> Score | str:
    """The run's recorded baseline, else `smolopt.baseline.embedding_baseline(task)` computed here,
    else why it was not measured (the notice it gave)."""
    if (found := recorded_baseline(results)) is not None:
        return found
    notices: list[str] = []
    computed = compute_baseline(load_task(str(task_folder)), notices)
    if computed is None:
        return f"{NOT_MEASURED} ({'; '.join(notices) or 'not a label task'})"
    return Score(computed.accuracy, *computed.interval, computed.n)


def baseline_source(results: dict[str, Any]) -> str:
    return "the run's results.json" if recorded_baseline(results) is not None else "`smolopt.baseline.embedding_baseline(task)`, run here"


def met(ok: bool) -> str:
    return "met" if ok else "**missed**"


def at_least(value: float, floor: float) -> bool:
    """value >= floor, exactly 10 points being 10 points (0.9 - 0.8 is 0.0999… in floating point)."""
    return value >= floor - 1e-9


def wall_row(what: str, seconds: float, limit_s: float, made_by: str, detail: str = "") -> list[str]:
    return [f"wall time, {what}", f"{seconds:.0f} s ({seconds / 60:.1f} min)" + (f"; {detail}" if detail else ""),
            f"<= {limit_s / 60:.0f} min", met(seconds <= limit_s), made_by]


def score_row(what: str, score: Score, floor: float, made_by: str) -> list[str]:
    return [what, score.cell(), f">= {pct(floor)}", met(at_least(score.value, floor)), made_by]


def fresh(prefix: str) -> Path:
    """A new folder for one part, kept after the run so its run folders can be looked at."""
    return Path(tempfile.mkdtemp(prefix=f"bench-own-data-{prefix}-"))


def write(name: str, title: str, facts: list[str], blocks: list[str]) -> str:
    body = "\n".join([f"## {title}", "", preamble().rstrip("\n"), *(f"- {fact}" for fact in facts), "", *blocks])
    write_section(name, body)
    print(body, flush=True)
    return body


def failed(name: str, title: str, facts: list[str], err: Missing) -> None:
    write(name, title, [*facts, f"also running at its end: {other_processes()}"],
          [f"**Not measured, a miss against every target of this part:** {err}"])


# ---- kept-apart agent traces ------------------------------------------------------------------------


def kept_apart_task(folder: Path, traces: Path = TRACES, source: Path = TASKS / "agent_monitor") -> Path:
    """`folder/agent_monitor/`: the task's own task.py, its test split the kept-apart traces. The
    folder keeps the task's name because a saved program names the task it was optimized for; train
    and val stay the original rows, as the loader wants every split and eval reads only test."""
    target = folder / source.name
    target.mkdir(parents=True)
    shutil.copy(source / "task.py", target / "task.py")
    rows = [row for row in read_jsonl(source / "data.jsonl") if row["split"] != "test"]
    rows += [{**row, "split": "test"} for row in read_jsonl(traces)]
    (target / "data.jsonl").write_text("".join(json.dumps(row, ensure_ascii=False) + "\n" for row in rows), encoding="utf-8")
    return target


def apart_rows(eval_results: dict[str, Any], traces: Path = TRACES) -> tuple[Score, list[list[str]], list[list[str]]]:
    """The shipped program on the kept-apart traces: overall, by notation, and trace by trace."""
    notation = {row["id"]: row["notation"] for row in read_jsonl(traces)}
    examples = eval_results["examples"]
    by_notation: dict[str, list[float]] = defaultdict(list)
    for example in examples:
        by_notation[notation[example["id"]]].append(example["score"])
    notation_rows = [[name, Score.of(scores).cell()] for name, scores in by_notation.items()]
    trace_rows = [[e["id"], notation[e["id"]], e["gold"], e["predicted"] if e["parsed"] else "(unparsed)", "right" if e["score"] else "wrong"]
                  for e in examples]
    return Score.of([e["score"] for e in examples]), notation_rows, trace_rows


# ---- the parts ------------------------------------------------------------------------------------------


def own_data(table: Table) -> bool:
    """`smolopt new` + `smolopt optimize --weights lora` on one labeled table, from an empty folder."""
    name, title = f"bench_own_data_{table.name}", f"Your own data: {table.path.name} (bench_own_data)"
    workdir = fresh(table.name)
    facts = [f"also running when it started: {other_processes()}",
             f"from a clean folder, {workdir}: no tasks, no runs (no call cache), no SMOLOPT_* variables; the shipped registry's "
             "default student (the embedded SmolLM2-135M Q4_1)"]
    try:
        new = smolopt(workdir, *table.new_args())
        task = load_task(str(workdir / "tasks" / table.name))
        sizes = task.sizes()
        optimize = smolopt(workdir, "optimize", table.name, "--weights", "lora")
        results = results_of(optimize)
        arm, score = shipped(results)
        baseline = embedding_baseline(results, task.path)
    except Missing as err:
        failed(name, title, facts, err)
        return False
    facts += [f"data: {in_repo(table.path)}, {sum(sizes.values())} rows, {len(task.labels or ())} labels; "
              f"split train {sizes['train']} / val {sizes['val']} / test {sizes['test']} (as `smolopt new` chose)",
              f"run folder: {optimize.run}", f"ship decision: {weights_block(results)['ship_note']}",
              f"also running at its end: {other_processes()}"]
    made_by = f"`{optimize.shown}` → results.json `weights.arms`"
    rows = [wall_row("new + optimize", new.wall_s + optimize.wall_s, OWN_WALL_S, f"`{new.shown}`; `{optimize.shown}`",
                     f"new {new.wall_s:.0f} s, optimize {optimize.wall_s:.0f} s ({step_seconds(results)})"),
            score_row(f"shipped arm ({arm}) on the held-back test rows", score, OWN_SHIPPED, made_by)]
    if isinstance(baseline, Score):
        margin = score.value - baseline.value
        rows += [[f"{METHOD} on test (trained on train + val)", baseline.cell(), "", "", baseline_source(results)],
                 ["shipped minus baseline", f"{points(margin)} points", f">= +{100 * OWN_MARGIN:.0f} points", met(at_least(margin, OWN_MARGIN)),
                  "the two rows above"]]
    else:
        rows.append([f"{METHOD} on test", baseline, f"the shipped arm >= +{100 * OWN_MARGIN:.0f} points above it",
                     "**missed** (not measured)", ""])
    write(name, title, facts, [markdown_table(TARGET_HEADERS, rows), "", f"Every arm on test (`{optimize.shown}`):", "",
                               markdown_table(ARM_HEADERS, arm_rows(results))])
    return True


def agent() -> bool:
    """optimize agent_monitor --weights lora, then its shipped program on the kept-apart traces."""
    name, title = "bench_own_data_agent", "Agent monitoring on traces kept apart (bench_own_data)"
    workdir = fresh("agent")
    facts = [f"also running when it started: {other_processes()}",
             f"from a clean folder, {workdir}: the repository's tasks, no runs (no call cache), the shipped registry"]
    try:
        optimize = smolopt(workdir, "optimize", "agent_monitor", "--weights", "lora", tasks=TASKS)
        results = results_of(optimize)
        arm, score = shipped(results)
        folder = kept_apart_task(workdir / "kept-apart")
        evaluated = smolopt(workdir, "eval", str(folder), "--program", str(run_file(optimize, "program.json")))
        apart, notation_rows, trace_rows = apart_rows(results_of(evaluated))
        baseline = embedding_baseline(results, TASKS / "agent_monitor")
    except Missing as err:
        failed(name, title, facts, err)
        return False
    notations = Counter(row["notation"] for row in read_jsonl(TRACES))
    facts += [f"kept apart: {len(trace_rows)} hand-written traces in {in_repo(TRACES)}, 3 per label, in notations the training "
              f"traces never use ({', '.join(f'{k} {v}' for k, v in notations.items())}); scored as the test split of {folder} "
              "(the task's own task.py)",
              f"run folder: {optimize.run}; eval run: {evaluated.run}", f"ship decision: {weights_block(results)['ship_note']}",
              f"also running at its end: {other_processes()}"]
    rows = [wall_row("optimize", optimize.wall_s, AGENT_WALL_S, f"`{optimize.shown}`", step_seconds(results)),
            score_row(f"shipped arm ({arm}) on test", score, AGENT_SHIPPED, f"`{optimize.shown}` → results.json `weights.arms`"),
            score_row(f"shipped arm ({arm}) on the kept-apart traces", apart, AGENT_APART,
                      f"`{evaluated.shown}` ({evaluated.wall_s:.0f} s)"),
            [f"{METHOD} on test", baseline.cell() if isinstance(baseline, Score) else baseline, "", "",
             baseline_source(results) if isinstance(baseline, Score) else ""]]
    write(name, title, facts, [markdown_table(TARGET_HEADERS, rows), "", f"Every arm on test (`{optimize.shown}`):", "",
                               markdown_table(ARM_HEADERS, arm_rows(results)), "", "The shipped program by notation, then trace by trace:", "",
                               markdown_table(["notation", "kept-apart accuracy [95% CI]"], notation_rows), "",
                               markdown_table(["trace", "notation", "gold", "predicted", ""], trace_rows)])
    return True


def probe() -> bool:
    """smolopt probe --task sentiment --task agent_monitor, timed, with each card's verdict."""
    name, title = "bench_own_data_probe", "Probe, timed (bench_own_data)"
    workdir = fresh("probe")
    facts = [f"also running when it started: {other_processes()}",
             f"from a clean folder, {workdir}: the repository's tasks, no runs (no call cache), the shipped registry"]
    try:
        ran = smolopt(workdir, "probe", "--task", "sentiment", "--task", "agent_monitor", tasks=TASKS)
        probes = json.loads(run_file(ran, "probe.json").read_text(encoding="utf-8"))["probes"]
    except Missing as err:
        failed(name, title, facts, err)
        return False
    facts += [f"run folder: {ran.run}", f"also running at its end: {other_processes()}"]
    cards = [[p["task"], pct(p["chance"]), str(p["rule_budget"]), p["verdict"]["label"], p["verdict"]["evidence"]] for p in probes]
    rows = [["wall time, probe", f"{ran.wall_s:.0f} s ({ran.wall_s / 60:.1f} min)", f"< {PROBE_WALL_S / 60:.0f} min",
             met(ran.wall_s < PROBE_WALL_S), f"`{ran.shown}`"]]
    write(name, title, facts, [markdown_table(TARGET_HEADERS, rows), "", f"The cards' verdicts (`{ran.shown}` → probe.json):", "",
                               markdown_table(["task", "chance", "rule budget", "verdict", "evidence"], cards)])
    return True


def main_job() -> bool:
    """smolopt optimize sentiment --weights lora, timed, with its shipped arm on test."""
    name, title = "bench_own_data_main", "The main job, timed (bench_own_data)"
    workdir = fresh("main")
    facts = [f"also running when it started: {other_processes()}",
             f"from a clean folder, {workdir}: the repository's tasks, no runs (no call cache), the shipped registry"]
    try:
        optimize = smolopt(workdir, "optimize", "sentiment", "--weights", "lora", tasks=TASKS)
        results = results_of(optimize)
        arm, score = shipped(results)
    except Missing as err:
        failed(name, title, facts, err)
        return False
    facts += [f"run folder: {optimize.run}", f"ship decision: {weights_block(results)['ship_note']}",
              f"also running at its end: {other_processes()}"]
    rows = [wall_row("optimize", optimize.wall_s, MAIN_WALL_S, f"`{optimize.shown}`", step_seconds(results)),
            score_row(f"shipped arm ({arm}) on test", score, MAIN_SHIPPED, f"`{optimize.shown}` → results.json `weights.arms`")]
    write(name, title, facts, [markdown_table(TARGET_HEADERS, rows), "", f"Every arm on test (`{optimize.shown}`):", "",
                               markdown_table(ARM_HEADERS, arm_rows(results))])
    return True


def tables(specs: list[list[str]] | None) -> tuple[Table, ...]:
    """--csv FILE LABEL [INPUT ...] as Tables (default: the two files in scripts/data)."""
    if not specs:
        return TABLES
    return tuple(Table(Path(spec[0]).resolve(), spec[1], tuple(spec[2:])) for spec in specs)


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--own", action="store_true", help="smolopt new + optimize --weights lora on each table")
    parser.add_argument("--csv", nargs="+", action="append", metavar="ARG", help="FILE LABEL [INPUT ...]: a table for --own (repeat for "
                        "several; default: helpdesk.csv category 'Customer message', and reviews_intent.csv intent product review)")
    parser.add_argument("--agent", action="store_true", help="optimize agent_monitor --weights lora, and its shipped program on the kept-apart traces")
    parser.add_argument("--probe", action="store_true", help="smolopt probe --task sentiment --task agent_monitor, timed")
    parser.add_argument("--main", action="store_true", help="smolopt optimize sentiment --weights lora, timed")
    args = parser.parse_args()
    if not (args.own or args.agent or args.probe or args.main):
        parser.error("name the part(s) to run: --own, --agent, --probe, --main (one at a time is the way to time them)")
    if args.csv and not args.own:
        parser.error("--csv names a table for --own")
    if args.csv and any(len(spec) < 2 for spec in args.csv):
        parser.error("--csv takes FILE LABEL [INPUT ...]")
    finished = []
    if args.own:
        finished += [own_data(table) for table in tables(args.csv)]
    if args.agent:
        finished.append(agent())
    if args.probe:
        finished.append(probe())
    if args.main:
        finished.append(main_job())
    if not all(finished):
        raise SystemExit("some measurements failed; their sections in BENCHMARKS.md say which and why")


if __name__ == "__main__":
    main()
