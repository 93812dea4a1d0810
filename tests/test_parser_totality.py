"""Whatever a model writes, the parsers answer with a value or the documented ParseFailure, never anything else."""

import enum
from pathlib import Path
from typing import Literal

import dspy
import pytest
from hypothesis import given, settings, strategies as st

from smolopt.adapters import RawTextAdapter
from smolopt.adapters.parsing import LabelSpec, ParseFailure, coerce, parse_bool, parse_label, parse_list, parse_number
from smolopt.tasks import available_tasks, load_task

TASKS = Path(__file__).resolve().parent.parent / "tasks"
# Model-like text: words, markup, numbers (huge ones too), brackets, labels, newlines.
TEXT = st.one_of(
    st.text(max_size=300),
    st.lists(st.sampled_from(["positive", "Answer:", "**", "[", "]", "1e999", "9" * 400, "-", "\n", "B)", "yes", ",", " ",
                              "Bridge:", "Candidate:", "doom_loop", "{", "\"", "nan", "inf"]), max_size=60).map("".join),
)


class Colour(enum.Enum):
    RED = "red"
    BLUE = "blue"


def total(parse, *args):
    try:
        parse(*args)
    except ParseFailure:
        pass


@given(TEXT)
def test_the_public_parsers_raise_nothing_but_parse_failure(text):
    total(parse_number, text, int)
    total(parse_number, text, float)
    total(parse_bool, text)
    total(parse_label, text, LabelSpec(("positive", "negative", "neutral"), {"pos": "positive"}))
    total(parse_label, text, LabelSpec(("A", "B", "C", "D", "E"), {}))
    assert isinstance(parse_list(text), list)
    for annotation in (int, float, bool, str, list[str], Literal["a", "b"], Colour, int | None):
        total(coerce, text, annotation)


def test_pathological_inputs_from_the_field():
    with pytest.raises(ParseFailure):
        parse_number("1e999", float)
    assert parse_number("9" * 300, int) > 0
    assert isinstance(parse_list("[" * 5000), list)


SIGNATURES = [(name, predictor.signature) for name in available_tasks(TASKS)
              for _, predictor in load_task(str(TASKS / name)).program().named_predictors()]


@pytest.mark.parametrize("name,signature", SIGNATURES, ids=[f"{n}:{s.__name__}" for n, s in SIGNATURES])
@settings(max_examples=60, deadline=None)
@given(text=TEXT)
def test_raw_text_adapter_parse_never_raises_on_a_shipped_signature(name, signature: type[dspy.Signature], text):
    parsed = RawTextAdapter().parse(signature, text)
    assert set(signature.output_fields) <= set(parsed)
