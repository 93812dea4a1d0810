"""Which state an LLM agent is in, read from its tool-call trace (four labels), scored by exact match."""

from typing import Literal

import dspy

INPUTS = ("trace",)
GOLD = ("label",)


class AgentState(dspy.Signature):
    """Name the agent's state in the trace: doom_loop (repeats a working call, same result), api_confusion (repeats a broken call, same error), verbose_thinking (long deliberation, few tool calls) or making_progress (varied steps that advance the task)."""

    trace: str = dspy.InputField()
    state: Literal["doom_loop", "api_confusion", "verbose_thinking", "making_progress"] = dspy.OutputField(
        synonyms={
            "doom loop": "doom_loop",
            "doom-loop": "doom_loop",
            "looping": "doom_loop",
            "api confusion": "api_confusion",
            "api-confusion": "api_confusion",
            "verbose": "verbose_thinking",
            "verbose thinking": "verbose_thinking",
            "overthinking": "verbose_thinking",
            "progress": "making_progress",
            "making progress": "making_progress",
        }
    )


def program() -> dspy.Module:
    return dspy.Predict(AgentState, max_tokens=16)


# What the gold label means in a trace: why the right answer is right.
WHY = {
    "doom_loop": "the tool results were normal and unchanged, with no errors: the agent repeated the same action without progress",
    "api_confusion": "the tool returned the same error each time and the agent kept making the same wrong call",
    "verbose_thinking": "the agent made at most one tool call and spent long AGENT lines deliberating over an easy request",
    "making_progress": "each tool call was different and each result fed the next step, moving the task forward",
}

# What the predicted label would have needed: why the wrong answer is wrong.
NEEDS = {
    "doom_loop": "doom_loop needs the same call repeated with ordinary, non-error results",
    "api_confusion": "api_confusion needs repeated calls that fail with an error about the call itself",
    "verbose_thinking": "verbose_thinking needs long deliberation with at most one tool call",
    "making_progress": "making_progress needs varied calls whose results advance the task",
}


def metric(example: dspy.Example, prediction: dspy.Prediction) -> dspy.Prediction:
    gold, said = example.label, prediction.state
    notes = example.get("notes")
    detail = f" In this trace: {notes}" if notes else ""
    if said == gold:
        return dspy.Prediction(score=1.0, feedback=f"Correct: this is {gold}.")
    feedback = f"Predicted {said}, but this is {gold}: {WHY[gold]}."
    if said in NEEDS:
        feedback += f" ({NEEDS[said]}.)"
    return dspy.Prediction(score=0.0, feedback=feedback + detail)
