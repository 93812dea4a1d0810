"""Five-way multiple-choice commonsense questions (answer A-E), scored by exact match."""

from typing import Literal

import dspy

INPUTS = ("question", "choices")
GOLD = ("answer",)


class CommonsenseMC(dspy.Signature):
    """Answer the question with the letter of the best choice."""

    question: str = dspy.InputField()
    choices: dict[str, str] = dspy.InputField()
    answer: Literal["A", "B", "C", "D", "E"] = dspy.OutputField(choices_from="choices")


def program() -> dspy.Module:
    return dspy.Predict(CommonsenseMC, max_tokens=12)


def _choice(example: dspy.Example, letter) -> str:
    text = (example.get("choices") or {}).get(str(letter))
    return f"{letter} ({text})" if text is not None else str(letter)


def metric(example: dspy.Example, prediction: dspy.Prediction) -> dspy.Prediction:
    gold, said = example.answer, prediction.answer
    if said == gold:
        return dspy.Prediction(score=1.0, feedback=f"Correct: {_choice(example, gold)}.")
    return dspy.Prediction(
        score=0.0,
        feedback=f"Predicted {_choice(example, said)}, but the answer is {_choice(example, gold)}.",
    )
