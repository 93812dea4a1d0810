"""A newcomer's first commands go without detours: `smolopt tasks` shows every folder even when one
is broken, a long run says how far it is and how long is left when its output goes to a file, and
a wide table in an 80-column terminal cuts no number and no verdict. No model runs.
"""

from __future__ import annotations

import io
import re
import shutil
from pathlib import Path

from rich.console import Console

from cli_runner import run_smolopt, small_task
from smolopt.cli.console import ProgressLines, progress_line
from smolopt.probe import CAPACITY_PROBLEM, PROMPT_PROBLEM, WEIGHTS_PROBLEM
from smolopt.probe.card import SUMMARY_HEADERS
from smolopt.report import Report, Section, rich_table, terminal


def tasks_listing(tmp_path: Path):
    """`smolopt tasks` run in tmp_path over its own ./tasks, on a terminal wide enough that no cell wraps."""
    return run_smolopt(tmp_path, "tasks", env_extra={"SMOLOPT_TASKS": str(tmp_path / "tasks"), "COLUMNS": "1000"})


def row_of(stdout: str, name: str) -> str:
    """The table row of task `name`, its cells stripped of the box around them."""
    line = next(line for line in stdout.splitlines() if re.match(rf"│ {re.escape(name)} +│", line))
    return " | ".join(cell.strip() for cell in line.strip("│").split("│"))


# ---- smolopt tasks -----------------------------------------------------------------------------


def test_a_broken_task_folder_is_one_row_and_hides_no_other(tmp_path: Path):
    tasks = tmp_path / "tasks"
    small_task("sentiment", tasks / "sentiment", per_split=3)
    small_task("agent_monitor", tasks / "agent_monitor", per_split=2)
    broken = small_task("sentiment", tasks / "half_done", per_split=3)
    (broken / "task.py").write_text("INPUTS = ('text',\n", encoding="utf-8")  # a syntax error, as a half-typed file has
    (tasks / "notes").mkdir()
    (tasks / "notes" / "ideas.txt").write_text("a task about invoices, some day\n", encoding="utf-8")

    listing = tasks_listing(tmp_path)

    assert listing.returncode == 1, listing.stderr  # after the whole table: a script notices a folder that does not load
    assert listing.stderr == ""
    assert row_of(listing.stdout, "sentiment").startswith("sentiment | 3 | 3 | 3 | positive, negative, neutral | 16 |")
    assert row_of(listing.stdout, "agent_monitor").startswith("agent_monitor | 2 | 2 | 2 |")
    half_done = row_of(listing.stdout, "half_done")
    assert f"not loaded: {broken / 'task.py'}: failed to load: SyntaxError" in half_done
    assert row_of(listing.stdout, "notes").endswith("| not loaded: no task.py")
    assert "Traceback" not in listing.stdout

    shutil.rmtree(broken)
    shutil.rmtree(tasks / "notes")
    fixed = tasks_listing(tmp_path)
    assert fixed.returncode == 0, fixed.stdout
    assert "not loaded" not in fixed.stdout


# ---- progress in a log file --------------------------------------------------------------------


class FakeClock:
    def __init__(self) -> None:
        self.now = 100.0

    def __call__(self) -> float:
        return self.now


def test_a_redirected_run_logs_throttled_lines_with_the_time_left():
    clock = FakeClock()
    lines = ProgressLines("eval", clock=clock)
    printed = []
    for done in range(201):  # 200 examples, 2 s each: 400 s in all
        clock.now = 100.0 + 2 * done
        if (text := lines.line(done, 200, "best 71.0%")) is not None:
            printed.append(text)

    assert printed[0] == "eval: 0/200 (0%) · 0:00 elapsed · time left: estimating · best 71.0%"
    assert printed[-1] == "eval: 200/200 (100%) · 6:40 elapsed · best 71.0%"
    assert "eval: 100/200 (50%) · 3:20 elapsed · about 3:20 left · best 71.0%" in printed
    assert 20 <= len(printed) <= 45  # a line every 10 s (or 10%), not one per example
    assert all("about" in text for text in printed[1:-1])


def test_a_new_total_is_a_new_step_with_its_own_rate():
    clock = FakeClock()
    lines = ProgressLines("optimize", clock=clock)
    assert lines.line(0, 50) is not None
    clock.now += 5
    assert lines.line(50, 50) == "optimize: 50/50 (100%) · 0:05 elapsed"  # the last update always gets a line
    assert lines.line(50, 50, "best val 75.0%") is None  # once: GEPA reports its spent budget again
    clock.now += 60
    assert lines.line(1, 3, "tuning weights") == "optimize: 1/3 (33%) · 1:05 elapsed · time left: estimating · tuning weights"
    clock.now += 60
    assert lines.line(2, 3, "tuning weights") == "optimize: 2/3 (67%) · 2:05 elapsed · about 1:00 left · tuning weights"


def test_progress_goes_to_a_redirected_stderr_as_plain_lines(capsys):
    with progress_line("eval") as update:  # stderr is captured here: not a terminal, as with 2> run.log
        for done in range(4):
            update(done, 3)
    err = capsys.readouterr().err
    assert err.splitlines()[0].startswith("eval: 0/3 (0%)")
    assert err.splitlines()[-1].startswith("eval: 3/3 (100%)")
    assert "━" not in err  # no bar drawn into a file

    with progress_line("eval", quiet=True) as update:
        update(3, 3)
    assert capsys.readouterr().err == ""


# ---- tables in 80 columns ----------------------------------------------------------------------


def rendered(table, width: int = 80) -> str:
    out = io.StringIO()
    Console(file=out, width=width, color_system=None).print(table)
    return out.getvalue()


def words(text: str) -> set[str]:
    return set(re.split(r"[\s│┃]+", text))


CARD_ROWS = [
    ("smollm2-135m-instruct-q4_1", "agent_monitor", "66.7%", "100.0%", "91.7%", "0.0%", "16", "58.3% @ 4", "58.3%", "83.3%", WEIGHTS_PROBLEM),
    ("gemma-3-270m-it-q4", "commonsense_mc", "33.3%", "100.0%", "50.0%", "skipped", "4", "41.7% @ 8", "8.3%", "not tried", PROMPT_PROBLEM),
    ("qwen2.5-0.5b", "sentiment", "41.7%", "75.0%", "100.0%", "8.3%", "0", "41.7% @ 0", "skipped", "skipped", CAPACITY_PROBLEM),
]


def test_the_capacity_card_in_80_columns_cuts_no_number_and_no_verdict():
    card = rendered(rich_table("capacity card", SUMMARY_HEADERS, CARD_ROWS))

    assert "…" not in card
    assert max(len(line) for line in card.splitlines()) <= 80
    for row in CARD_ROWS:
        for cell in row:
            assert set(cell.split()) <= words(card), cell
    for verdict in (WEIGHTS_PROBLEM, PROMPT_PROBLEM, CAPACITY_PROBLEM):
        assert f"verdict: {verdict}" in card  # too wide for 80 columns: each row as "column: value" lines
    assert "┃" in rendered(rich_table("capacity card", SUMMARY_HEADERS, CARD_ROWS), width=200)  # a table where it fits


def test_a_table_with_long_text_wraps_the_text_and_keeps_its_numbers_whole():
    description = "Which state an LLM agent is in, read from its tool-call trace (four labels), scored by exact match. " * 2
    report = Report("smolopt eval", [("notice", "a server without logprobs: answers are generated")], [
        Section("agent_monitor", ["task", "accuracy", "95% interval", "labels", "description"],
                [("agent_monitor", "43.75%", "[18.75%, 68.75%]", "doom_loop, api_confusion, verbose_thinking", description)],
                note="val: 12 traces"),
    ])
    text = "".join(rendered(line) for line in terminal(report))

    assert "…" not in text and "┃" in text  # it fits as a table once the prose wraps
    assert max(len(line) for line in text.splitlines()) <= 80
    assert {"43.75%", "[18.75%,", "68.75%]", "verbose_thinking", "doom_loop,", "api_confusion,"} <= words(text)
    assert set(description.split()) <= words(text)
