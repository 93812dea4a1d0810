"""Short stories from a structured idea, scored by word range, an LLM judge and similarity to a teacher's story."""

from pathlib import Path

import dspy

from smolopt.metrics.judge import Judge
from smolopt.metrics.parts import combine
from smolopt.metrics.similarity import similarity_part, unavailable as similarity_unavailable
from smolopt.metrics.word_range import word_range_part
from smolopt.references import read_references

INPUTS = ("title", "genre", "characters_number", "words_range", "constraints")
GOLD = ()

# How much each part counts. Length and closeness to the teacher are measured on every machine;
# the four judge parts only where a judge answers (their weight is then shared by the others).
WEIGHTS = {"word range": 0.3, "similarity": 0.2, "genre fit": 0.1, "speakers": 0.1, "constraints": 0.15, "liking": 0.15}

REFERENCES = read_references(Path(__file__).parent, "story")


class WriteStory(dspy.Signature):
    """Write the text described by the title, genre and constraints."""

    title: str = dspy.InputField()
    genre: str = dspy.InputField()
    characters_number: int = dspy.InputField()
    words_range: str = dspy.InputField()
    constraints: str = dspy.InputField()
    story: str = dspy.OutputField()


def program() -> dspy.Module:
    # 300 words of English are about 400 tokens; leave room for the longest range asked (350).
    return dspy.Predict(WriteStory, max_tokens=520)


def demo(example: dspy.Example, predictor: str) -> dict | None:
    """A training idea with its reference story, when the teacher wrote one."""
    reference = REFERENCES.get(example.id)
    return None if reference is None else {**example.inputs().toDict(), "story": reference["story"]}


def metric(example: dspy.Example, prediction: dspy.Prediction, judge: Judge) -> dspy.Prediction:
    """`judge`: the run's judge (the registry's reflection model by default); an absent one leaves its parts out."""
    story = prediction.get("story") or ""
    parts, dropped = [word_range_part(story, example.words_range)], {}
    reference = REFERENCES.get(example.id)
    if reference is None:
        dropped["similarity"] = "no reference story for this idea (write them with smolopt teach story)"
    elif why := similarity_unavailable():
        dropped["similarity"] = why
    else:
        parts.append(similarity_part(story, reference["story"]))
    judged, unread = judge.story_parts(example.toDict(), story)
    parts += judged
    dropped.update(unread)
    return combine(parts, WEIGHTS, dropped)
