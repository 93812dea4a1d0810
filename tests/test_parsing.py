"""The parsers read what a 135M model really says (outputs below were produced by SmolLM2-135M here)."""

from typing import Literal

import dspy
import pytest

from smolopt.adapters import RawTextAdapter
from smolopt.adapters.parsing import LabelSpec, ParseFailure, coerce, parse_label, split_labelled

SENTIMENT = LabelSpec(("positive", "negative", "neutral"), {"mixed": "neutral"})


@pytest.mark.parametrize("said, label", [
    ("Positive.", "positive"),
    ("**Negative**", "negative"),
    ("The sentiment of this text is positive, as it expresses happiness", "positive"),
    ("The text is negative, with a neutral sentiment.", "negative"),
    ("This is a positive sentiment. The text conveys that the shampoo", "positive"),
    ("Positive sentiment: positive\nNegative sentiment: negative", "positive"),
    ("  neutral\n\nThe text states a fact.", "neutral"),
    ("Mixed.", "neutral"),
])
def test_labels_are_read_from_real_135m_replies(said, label):
    assert parse_label(said, SENTIMENT) == label


def test_an_echoed_input_is_a_parse_failure_that_says_what_came_back():
    with pytest.raises(ParseFailure, match="The gym is overcrowded"):
        parse_label("The gym is overcrowded and the machines are broken.", SENTIMENT)


def test_single_letters_only_count_as_standalone_capitals():
    letters = LabelSpec(("A", "B", "C", "D", "E"), {})
    assert parse_label("The answer is C", letters) == "C"
    assert parse_label("(D) garage", letters) == "D"
    assert parse_label("E", letters) == "E"
    with pytest.raises(ParseFailure):
        parse_label("a cat and a dog", letters)


@pytest.mark.parametrize("annotation, text, value", [
    (bool, "Yes, it is.", True),
    (bool, "no", False),
    (int, "There are 3 apples", 3),
    (float, "about 1,234.5 units", 1234.5),
    (list[str], "- apples\n- pears", ["apples", "pears"]),
    (list[str], '["a", "b"]', ["a", "b"]),
    (str, "  Paris  ", "Paris"),
])
def test_typed_coercion(annotation, text, value):
    assert coerce(text, annotation) == value


def test_labelled_fields_in_any_order_or_case():
    text = "ANSWER: Paris\nreasoning: France's capital is Paris."
    assert split_labelled(text, {"reasoning": "Reasoning", "answer": "Answer"}) == {
        "answer": "Paris", "reasoning": "France's capital is Paris."
    }


class Sentiment(dspy.Signature):
    """Classify the sentiment of the text."""

    text: str = dspy.InputField()
    sentiment: Literal["positive", "negative", "neutral"] = dspy.OutputField(synonyms={"pos": "positive"})


def test_parse_never_raises_and_keeps_the_raw_text():
    parsed = RawTextAdapter().parse(Sentiment, "I love how soft and warm this blanket is.")
    assert parsed["sentiment"] is None
    assert parsed["smolopt_raw"] == "I love how soft and warm this blanket is."
    assert "expected one of positive, negative, neutral" in parsed["smolopt_parse_error"]


def test_declared_synonyms_reach_the_parser():
    assert RawTextAdapter().parse(Sentiment, "pos")["sentiment"] == "positive"


def test_the_prompt_is_compact_and_ends_with_the_answer_line():
    messages = RawTextAdapter().format(Sentiment, [{"text": "Awful.", "sentiment": "negative"}], {"text": "Great!"})
    assert [m["role"] for m in messages] == ["user", "assistant", "user"]
    assert messages[0]["content"].startswith("Classify the sentiment of the text.\n\nText: Awful.")
    assert messages[1]["content"] == "negative"
    assert messages[-1]["content"] == "Text: Great!\nAnswer with one word (positive, negative or neutral):"
    assert "[[ ##" not in str(messages) and "JSON" not in str(messages)
