"""The task.py `smolopt new` writes: short, in the shape of tasks/sentiment/task.py, for a user to edit.

A label task gets a Literal of the labels found in the data and an exact-match metric whose
feedback names the gold label and the predicted one. A free-text task gets the metric asked for:
exact (SQuAD-normalized: case, punctuation and articles aside), token F1, or similarity (cosine of
all-MiniLM-L6-v2 sentence embeddings, the `similarity` extra).
"""

from __future__ import annotations

import json
import math
from collections.abc import Sequence
from dataclasses import dataclass

from smolopt.prompt_size import CHARS_PER_TOKEN

METRIC_WORDS = {"exact": "exact match (case, punctuation and articles aside)", "f1": "token F1",
                "similarity": "similarity (cosine of sentence embeddings)"}
_METRIC_IMPORTS = {"exact": "from smolopt.metrics.overlap import exact_match", "f1": "from smolopt.metrics.overlap import token_f1",
                   "similarity": "from smolopt.metrics.similarity import cosine"}
METRICS = tuple(METRIC_WORDS)
LABEL_ROOM = 8  # tokens beyond the longest label: a 135M model may wrap its answer in "**" or a full stop


@dataclass(frozen=True)
class TaskFile:
    """What task.py says: its fields, labels (None: free text), metric, instruction and answer length."""

    source: str  # the file the rows came from, as the docstring names it
    inputs: tuple[str, ...]
    output: str
    labels: tuple[str, ...] | None
    metric: str
    instruction: str
    max_tokens: int


def phrase(fields: Sequence[str]) -> str:
    """('customer_message', 'product') -> 'customer message and product'."""
    words = [field.rstrip("_").replace("_", " ") for field in fields]
    return " and ".join(words) if len(words) <= 2 else ", ".join(words[:-1]) + f" and {words[-1]}"


def default_instruction(inputs: Sequence[str], output: str, labels: Sequence[str] | None) -> str:
    if labels is not None:
        return f"Classify the {phrase(inputs)} by {phrase([output])}."
    return f"Given the {phrase(inputs)}, write the {phrase([output])}."


def max_tokens_for(targets: Sequence[str], labels: Sequence[str] | None) -> int:
    """max_tokens for the program: a label task, the longest label and some room (at least sentiment's
    12); free text, the longest reference and a quarter more, at CHARS_PER_TOKEN characters a token."""
    longest = max(len(target) for target in targets) / CHARS_PER_TOKEN
    if labels is not None:
        return max(12, math.ceil(longest) + LABEL_ROOM)
    return max(16, math.ceil(longest * 1.25))


def _docstring(text: str) -> str:
    """A Python literal for the instruction, triple-quoted when that needs no escaping."""
    if '"""' in text or "\\" in text or text.endswith('"'):
        return repr(text)
    return f'"""{text}"""'


def _quoted(text: str) -> str:
    return json.dumps(text, ensure_ascii=False)  # a JSON string is a Python string literal, in double quotes


def _synonyms(labels: Sequence[str]) -> dict[str, str]:
    """"account access" for account_access: the parser reads underscores as markup, so a model that
    answers in words would otherwise miss."""
    found = {}
    for label in labels:
        spaced = " ".join(label.replace("_", " ").replace("-", " ").split())
        if spaced != label and spaced not in labels:
            found[spaced] = label
    return found


def _class_name(output: str) -> str:
    name = "".join(part[:1].upper() + part[1:] for part in output.split("_") if part)
    return name + "Answer" if name == "Literal" else name  # typing.Literal is imported by that name


def _output_field(labels: Sequence[str] | None) -> str:
    """The output field's annotation and declaration."""
    if labels is None:
        return "str = dspy.OutputField()"
    synonyms = ", ".join(f"{_quoted(alias)}: {_quoted(label)}" for alias, label in _synonyms(labels).items())
    choices = ", ".join(_quoted(label) for label in labels)
    if not synonyms:
        return f"Literal[{choices}] = dspy.OutputField()"
    return (f"Literal[{choices}] = dspy.OutputField(\n        # the labels in words, as a model may answer them (the parser reads an underscore as markup)\n"
            f"        synonyms={{{synonyms}}}\n    )")


def task_source(spec: TaskFile) -> str:
    """The text of task.py."""
    labelled = spec.labels is not None
    what = (f"the {phrase([spec.output])} of the {phrase(spec.inputs)}: one of {', '.join(spec.labels)}" if labelled
            else f"the {phrase([spec.output])} from the {phrase(spec.inputs)}, scored by {METRIC_WORDS[spec.metric]}")
    name = _class_name(spec.output)
    lines = [
        f'"""{what[:1].upper() + what[1:]}.',
        "",
        f"Made by `smolopt new` from {spec.source}; data.jsonl holds its rows with their ids and splits. Edit",
        "freely: the signature's docstring is the instruction `smolopt optimize` starts from, and `metric`",
        "scores every answer.",
        '"""',
        "",
        *(["from typing import Literal", "", "import dspy"] if labelled else ["import dspy", "", _METRIC_IMPORTS[spec.metric]]),
        "",
        f"INPUTS = ({', '.join(_quoted(field) for field in spec.inputs)}{',' if len(spec.inputs) == 1 else ''})",
        f"GOLD = ({_quoted(spec.output)},)",
        "",
        "",
        f"class {name}(dspy.Signature):",
        f"    {_docstring(spec.instruction)}",
        "",
        *(f"    {field}: str = dspy.InputField()" for field in spec.inputs),
        f"    {spec.output}: {_output_field(spec.labels)}",
        "",
        "",
        "def program() -> dspy.Module:",
        f"    return dspy.Predict({name}, max_tokens={spec.max_tokens})",
        "",
        "",
        "def metric(example: dspy.Example, prediction: dspy.Prediction) -> dspy.Prediction:",
        *(_filled(line, spec.output) for line in (_LABEL_METRIC if labelled else _TEXT_METRICS[spec.metric])),
    ]
    return "\n".join(lines) + "\n"


def _filled(line: str, output: str) -> str:
    return line.replace("@gold", f"example.{output}").replace("@said", f"prediction.{output}").replace("@name", phrase([output]))


# Metric bodies: @gold, @said and @name are the example's gold field, the prediction's and the field in words.
_LABEL_METRIC = [
    "    gold, said = @gold, @said",
    "    if said == gold:",
    '        return dspy.Prediction(score=1.0, feedback=f"Correct: the @name is {gold}.")',
    '    return dspy.Prediction(score=0.0, feedback=f"Predicted {said}, but the @name is {gold}.")',
]
_TEXT_METRICS = {
    "exact": [
        '    gold, said = @gold, @said or ""',
        "    if exact_match(said, gold):",
        '        return dspy.Prediction(score=1.0, feedback=f"Correct: the @name is {gold!r}.")',
        '    return dspy.Prediction(score=0.0, feedback=f"Wrote {said!r}, but the @name is {gold!r}.")',
    ],
    "f1": [
        '    gold, said = @gold, @said or ""',
        "    score = token_f1(said, gold)",
        '    return dspy.Prediction(score=score, feedback=f"Token F1 {score:.2f}: wrote {said!r}; the @name is {gold!r}.")',
    ],
    "similarity": [
        '    gold, said = @gold, @said or ""',
        "    score = max(0.0, cosine(said, gold)) if said.strip() else 0.0  # opposite meanings score 0, not below",
        '    return dspy.Prediction(score=score, feedback=f"Similarity {score:.2f} to the reference: wrote {said!r}; the @name is {gold!r}.")',
    ],
}
