"""Three-way sentiment of a short text (positive / negative / neutral), scored by exact match."""

from typing import Literal

import dspy

INPUTS = ("text",)
GOLD = ("label",)


class Sentiment(dspy.Signature):
    """Classify the sentiment of the text."""

    text: str = dspy.InputField()
    # A 135M model often answers with an adjective ("Awful.") instead of a label.
    sentiment: Literal["positive", "negative", "neutral"] = dspy.OutputField(
        synonyms={
            "pos": "positive", "good": "positive", "great": "positive", "excellent": "positive", "happy": "positive",
            "neg": "negative", "bad": "negative", "awful": "negative", "terrible": "negative", "poor": "negative",
            "neu": "neutral", "mixed": "neutral", "factual": "neutral", "objective": "neutral",
        }
    )


def program() -> dspy.Module:
    return dspy.Predict(Sentiment, max_tokens=12)


def metric(example: dspy.Example, prediction: dspy.Prediction) -> dspy.Prediction:
    gold, said = example.label, prediction.sentiment
    if said == gold:
        return dspy.Prediction(score=1.0, feedback=f"Correct: the text is {gold}.")
    return dspy.Prediction(
        score=0.0,
        feedback=f"Predicted {said}, but the text is {gold}: {example.text!r}",
    )
