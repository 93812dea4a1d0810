"""Training text in exactly the format a program is served with.

Weights learn the prompt they are trained on: an adapter trained on zero-shot prompts scored 72.9%
on sentiment test once three demos were put in front, against 92.7% zero-shot (train/serve
mismatch, measured in the spike behind issue 18). So each training pair is rendered by the same
code the adapter uses at serving time (`completion_prompt`, or the chat messages through the
model's own chat template), with the predictor's own instruction and demos, and the target is what
the model should write next. A one-predictor program learns the gold label for a label field (the
token the label scorer reads), or the reference text for a free-text field. A multi-step program
learns every step of the examples it got right (`smolopt.tune.traces`): each step's outputs written
as the adapter reads them back, in that step's format.
"""

from __future__ import annotations

import enum
from collections.abc import Callable
from dataclasses import dataclass
from typing import Any

import dspy

from smolopt.adapters import RawTextAdapter
from smolopt.adapters.completion import completion_prompt, labelled
from smolopt.adapters.formats import CONFIG_KEY, SEED, Format, parse_format
from smolopt.adapters.parsing import field_label
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
    choices: tuple[str, ...] = ()  # a label field's every allowed continuation (target among them), for val scoring


@dataclass(frozen=True)
class Step:
    """One predictor call of a traced example: what the predictor was given and what the model wrote."""

    example: str  # the example's id
    predictor: str  # its name in program.named_predictors()
    inputs: dict[str, Any]
    outputs: dict[str, Any]  # every output field, as the adapter read it


@dataclass(frozen=True)
class Served:
    """A predictor as the adapter serves it: signature, format and demos."""

    signature: type[dspy.Signature]
    fmt: Format
    demos: list[dict[str, Any]]

    @classmethod
    def of(cls, name: str, predictor: dspy.Predict) -> Served:
        fmt = parse_format(str(predictor.config.get(CONFIG_KEY, SEED)), f"format of predictor '{name}'")
        demos = [dict(demo.toDict() if hasattr(demo, "toDict") else demo) for demo in predictor.demos]
        return cls(predictor.signature, fmt, demos)

    @property
    def lead(self) -> str:
        """A completion continues "Sentiment:" with " positive"; a chat reply starts the turn with "positive"."""
        return " " if self.fmt.mode == "completion" else ""

    def prompt(self, inputs: dict[str, Any], chat: ChatRenderer | None) -> str:
        if self.fmt.mode == "completion":
            return completion_prompt(self.signature, self.demos, inputs)
        if chat is None:
            raise SmoloptError(f"format '{self.fmt}' renders through a chat template, and this model has none; tune in a completion format")
        return chat(RawTextAdapter().format(self.signature, self.demos, inputs))

    def choices(self, inputs: dict[str, Any]) -> tuple[str, ...]:
        """Every continuation a label field allows (none for free text)."""
        spec = RawTextAdapter.scored_labels(self.signature, inputs)
        return tuple(self.lead + label for label in spec.labels) if spec is not None else ()

    def reply(self, outputs: dict[str, Any]) -> str:
        """What the model writes after the prompt to give `outputs`, rendered as a demo's outputs are
        (so the adapter parses it back to the same values): in completion mode the rest of the block
        after the prompt's first output label (" Paris", or " Paris\\nCandidate: France"); in chat
        mode the assistant turn."""
        # An Enum label is written as its value, the text the parser reads back into the member.
        values = {name: value.value if isinstance(value, enum.Enum) else value for name, value in outputs.items()}
        if self.fmt.mode == "chat":
            return RawTextAdapter().format_assistant_message_content(self.signature, values)
        names = list(self.signature.output_fields)
        return "\n".join(labelled(name, values[name]) for name in names).removeprefix(f"{field_label(names[0])}:")


def is_multi_step(program: dspy.Module) -> bool:
    """Whether the program calls several predictors (trained on its traced steps, not on gold targets)."""
    return len(list(program.named_predictors())) > 1


def pairs(task: Task, program: dspy.Module, examples: list[dspy.Example], chat: ChatRenderer | None,
          references: dict[str, str] | None = None) -> list[Pair]:
    """A pair per example that has a target: its gold label, or (free text) its reference."""
    ((name, predictor),) = program.named_predictors()  # several: trained on their traced steps instead (step_pairs)
    served = Served.of(name, predictor)
    made = []
    for example in examples:
        gold = example.get(task.gold_field) if task.labels else (references or {}).get(str(example.get("id")))
        if gold is None:
            continue
        inputs = {field: example.get(field) for field in served.signature.input_fields}
        made.append(Pair(str(example.get("id")), served.prompt(inputs, chat), served.lead + str(gold),
                         served.choices(inputs) if task.labels else ()))
    if not made:
        raise SmoloptError(f"task '{task.name}': no training example has a {'label' if task.labels else 'reference'} to train on")
    return made


def step_pairs(program: dspy.Module, steps: list[Step], chat: ChatRenderer | None) -> list[Pair]:
    """A pair per traced step: its predictor's prompt as served, and what the model wrote there.
    One adapter learns every predictor's steps (DSPy's multitask fine-tuning)."""
    served = {name: Served.of(name, predictor) for name, predictor in program.named_predictors()}
    return [Pair(f"{step.example}/{step.predictor}", served[step.predictor].prompt(step.inputs, chat),
                 served[step.predictor].reply(step.outputs), served[step.predictor].choices(step.inputs))
            for step in steps]
