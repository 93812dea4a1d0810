"""An optimized program.json carries its format, task and fields, and loads only where it belongs."""

from pathlib import Path

import pytest

from smolopt.candidate import CONFIG_KEY, set_format
from smolopt.errors import SmoloptError
from smolopt.program_io import load_program, save_program
from smolopt.tasks import load_task

TASKS = Path(__file__).resolve().parent.parent / "tasks"


def test_a_saved_program_keeps_its_format_and_demos(tmp_path):
    task = load_task(str(TASKS / "sentiment"))
    program = task.program()
    set_format(program, "completion score calibrated", "self")
    program.demos = [task.demo_for(task.split("train")[0], "self")]
    loaded = load_program(task, save_program(program, tmp_path / "program.json", task.name))
    assert loaded.config[CONFIG_KEY] == "completion score calibrated"
    assert len(loaded.demos) == 1


def test_a_program_refuses_to_load_into_another_task(tmp_path):
    sentiment = load_task(str(TASKS / "sentiment"))
    path = save_program(sentiment.program(), tmp_path / "program.json", sentiment.name)
    with pytest.raises(SmoloptError, match="optimized for task 'sentiment', not 'commonsense_mc'"):
        load_program(load_task(str(TASKS / "commonsense_mc")), path)
    path.write_text(path.read_text().replace('"task": "sentiment"', '"task": ""'))
    with pytest.raises(SmoloptError, match="fields"):
        load_program(load_task(str(TASKS / "commonsense_mc")), path)
