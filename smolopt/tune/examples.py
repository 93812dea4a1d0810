"""Training text in exactly the format a program is served with.

Weights learn the prompt they are trained on: an adapter trained on zero-shot prompts scored 72.9%
on sentiment test once three demos were put in front, against 92.7% zero-shot (train/serve
mismatch, measured in the spike behind issue 18). So each training pair is rendered by the same
code the adapter uses at serving time (`completion_prompt`, or the chat messages through the
model's own chat template), with the predictor's own instruction and demos, and the target is what
the model should write next: the gold label for a label field (the token the label scorer reads),
the reference text for a free-text field.
"""

from __future__ import annotations

from collections.abc import Callable
from dataclasses import dataclass
from typing import Any

import dspy

from smolopt.adapters import RawTextAdapter
from smolopt.adapters.completion import completion_prompt
from smolopt.adapters.formats import CONFIG_KEY, SEED, parse_format
from smolopt.errors import SmoloptError
from smolopt.tasks import Task

# Renders chat messages to the text the server would feed the model (its chat template).
ChatRenderer = Callable[[list[dict[str, Any]]], str]


@dataclass(frozen=True)
class Pair:
    """One training text: the prompt as served, and the continuation the loss is taken on."""

    id: str
    prompt: str
    target: str
    choices: tuple[str, ...] = ()  # a label task's every allowed continuation (target among them), for val scoring


def predictor_of(program: dspy.Module) -> tuple[str, dspy.Predict]:
    """The one predictor a tune trains; a multi-step program is refused with the reason."""
    predictors = list(program.named_predictors())
    if len(predictors) != 1:
        names = ", ".join(name for name, _ in predictors)
        raise SmoloptError(f"tune trains one-predictor programs; this one has {len(predictors)} ({names})")
    return predictors[0]


def pairs(task: Task, program: dspy.Module, examples: list[dspy.Example], chat: ChatRenderer | None,
          references: dict[str, str] | None = None) -> list[Pair]:
    """A pair per example that has a target: its gold label, or (free text) its reference."""
    name, predictor = predictor_of(program)
    signature = predictor.signature
    fmt = parse_format(str(predictor.config.get(CONFIG_KEY, SEED)), f"format of predictor '{name}'")
    demos = [dict(demo.toDict() if hasattr(demo, "toDict") else demo) for demo in predictor.demos]
    made = []
    for example in examples:
        inputs = {field: example.get(field) for field in signature.input_fields}
        spec = RawTextAdapter.scored_labels(signature, inputs)
        gold = example.get(task.gold_field) if task.labels else (references or {}).get(str(example.get("id")))
        if gold is None:
            continue
        # A completion continues "Sentiment:" with " positive"; a chat reply starts the turn with "positive".
        lead = " " if fmt.mode == "completion" else ""
        if fmt.mode == "completion":
            prompt = completion_prompt(signature, demos, inputs)
        elif chat is None:
            raise SmoloptError(f"format '{fmt}' renders through a chat template, and this model has none; tune in a completion format")
        else:
            prompt = chat(RawTextAdapter().format(signature, demos, inputs))
        choices = tuple(lead + label for label in spec.labels) if spec is not None and task.labels else ()
        made.append(Pair(str(example.get("id")), prompt, lead + str(gold), choices))
    if not made:
        raise SmoloptError(f"task '{task.name}': no training example has a {'label' if task.labels else 'reference'} to train on")
    return made
