"""Completion mode: a predictor's prompt as plain text for the model to continue, no chat template.

    Classify the sentiment of the text.

    Text: The battery died before lunch.
    Sentiment: negative

    Text: I loved every minute of it.
    Sentiment:

A tiny base-trained model has seen this shape (a labelled list) far more often than a chat turn
asking for a reply, and the text it writes next is the answer itself. Demos are earlier blocks of
the same list; several output fields are written one per line, and the prompt ends at the first.
"""

from __future__ import annotations

from typing import Any

import dspy

from smolopt.adapters.parsing import field_label

BLOCK_SEPARATOR = "\n\n"


def render_value(value: Any) -> str:
    """Dicts as "key) value" lines (multiple choice), lists as "- item" lines, the rest as text."""
    if isinstance(value, dict):
        return "\n".join(f"{key}) {item}" for key, item in value.items())
    if isinstance(value, (list, tuple)):
        return "\n".join(f"- {item}" for item in value)
    return str(value)


def labelled(name: str, value: Any) -> str:
    """`Label: value`, with a multi-line value starting on its own line."""
    text = render_value(value)
    return f"{field_label(name)}:{chr(10) if chr(10) in text else ' '}{text}"


def input_lines(signature: type[dspy.Signature], inputs: dict[str, Any]) -> list[str]:
    return [labelled(name, inputs[name]) for name in signature.input_fields if inputs.get(name) is not None]


def _block(signature: type[dspy.Signature], example: dict[str, Any], with_outputs: bool) -> str:
    lines = input_lines(signature, example)
    outputs = list(signature.output_fields)
    if with_outputs:
        lines += [labelled(name, example[name]) for name in outputs if name in example]
    else:
        lines.append(f"{field_label(outputs[0])}:")
    return "\n".join(lines)


def completion_prompt(signature: type[dspy.Signature], demos: list[dict], inputs: dict[str, Any]) -> str:
    """Instruction, one block per complete demo, then the input block ending at the first output label."""
    blocks = [signature.instructions.strip()] if signature.instructions.strip() else []
    for demo in demos:
        if all(name in demo for name in signature.input_fields) and any(name in demo for name in signature.output_fields):
            blocks.append(_block(signature, demo, with_outputs=True))
    blocks.append(_block(signature, inputs, with_outputs=False))
    return BLOCK_SEPARATOR.join(blocks)


def stop_sequences(signature: type[dspy.Signature]) -> list[str]:
    """Where the answer ends: a blank line, or the model starting the next block of the list."""
    return [BLOCK_SEPARATOR] + [f"\n{field_label(name)}:" for name in list(signature.input_fields)[:1]]


def as_labelled_reply(signature: type[dspy.Signature], continuation: str) -> str:
    """The continuation with the first output label in front, so the labelled-section parser reads it."""
    names = list(signature.output_fields)
    if len(names) == 1:
        return continuation.strip()
    return f"{field_label(names[0])}: {continuation.strip()}"
