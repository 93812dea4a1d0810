"""What smolopt reads out of a hosted reflector's reply: the shapes tests/reflector_standin.py plays
to a real run (tests/test_reflection_story.py), and the edges around them, as pure functions."""

import pytest
from reflector_standin import REPLIES, REWRITE

from smolopt.optimize.guards import extract_instruction, rejection_reason
from smolopt.optimize.proposers.reflective import reflection_prompt

CURRENT = "Classify the sentiment of the text."
RECORDS = [{"Inputs": {"text": "The soup was cold and the waiter was rude to us."}, "Generated Outputs": "positive",
            "Feedback": "Predicted positive, but the text is negative.", "score": 0.0}]
PROMPT = reflection_prompt(CURRENT, RECORDS)


def test_a_rewrite_wrapped_in_prose_yields_the_fenced_instruction_alone():
    reply = REPLIES["rewrite"]
    assert extract_instruction(reply.content) == REWRITE
    assert rejection_reason(reply.content, reply.finish_reason, PROMPT, CURRENT) is None


@pytest.mark.parametrize("name, reason, kept", [
    ("refusal", "no ``` block", "I'm sorry, I can't help with that."),
    ("prose", "no ``` block", REPLIES["prose"].content),
    ("truncated", "truncated", REWRITE[:90].strip()),  # the journal keeps the cut block, not the prose before it
])
def test_a_refusal_a_comment_and_a_cut_block_are_rejected_with_the_reason(name, reason, kept):
    reply = REPLIES[name]
    assert reason in rejection_reason(reply.content, reply.finish_reason, PROMPT, CURRENT)
    assert extract_instruction(reply.content) == kept


def test_a_block_that_never_closes_is_truncated_even_when_the_server_says_stop():
    assert "never closes" in rejection_reason(REPLIES["truncated"].content, "stop", PROMPT, CURRENT)


def test_a_reply_cut_off_after_its_block_closed_still_holds_the_whole_instruction():
    cut_in_the_prose_after = f"Revised:\n```text\n{REWRITE}\n```\n\nThis version names the three labels and"
    assert extract_instruction(cut_in_the_prose_after) == REWRITE
    assert rejection_reason(cut_in_the_prose_after, "length", PROMPT, CURRENT) is None
