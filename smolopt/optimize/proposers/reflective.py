"""Reflective rewrite of an instruction by another model, over the same raw path as the student.

DSPy's default instruction proposer formats its request with JSONAdapter, which sends
`response_format` (LM Studio answers HTTP 400). This proposer writes a plain prompt, calls the
reflection model through LocalClient, reads the instruction out of a ``` fence, and runs the
proposal guards before GEPA may evaluate it.
"""

from __future__ import annotations

from collections.abc import Mapping, Sequence
from typing import Any

from smolopt.backends.client import LocalClient
from smolopt.candidate import predictor_of
from smolopt.optimize.guards import extract_instruction, rejection_reason
from smolopt.optimize.proposers.base import Proposed, Records

MAX_EXAMPLES = 6

TEMPLATE = """A very small language model (around 135M parameters) follows the instruction below for one step of a task. Write a better instruction for it.

Current instruction:
```
{current}
```

How the model did with it on a few examples:

{examples}

What works for models this small:
- Short and concrete: at most four sentences.
- Say what to do rather than what to avoid: a small model repeats "DO NOT ..." lines instead of obeying them.
- When two answers look alike, give a rule the model can check mechanically (a count, a keyword).

Reply with the new instruction only, inside ``` fences."""


def _render_record(index: int, record: Mapping[str, Any]) -> str:
    inputs = "\n".join(f"  {key}: {str(value)[:600]}" for key, value in record.get("Inputs", {}).items())
    return (
        f"Example {index}\nInput:\n{inputs}\n"
        f"Model output: {str(record.get('Generated Outputs', ''))[:300]}\n"
        f"Feedback: {record.get('Feedback', '')}"
    )


def reflection_prompt(current: str, records: Sequence[Mapping[str, Any]]) -> str:
    # Failures first: they carry the signal; a couple of successes show what to keep.
    ordered = sorted(records, key=lambda record: record.get("score", 0.0))[:MAX_EXAMPLES]
    examples = "\n\n".join(_render_record(i, record) for i, record in enumerate(ordered, start=1))
    return TEMPLATE.format(current=current, examples=examples)


class ReflectiveProposer:
    """One reflection call per proposal; the guards decide whether GEPA may evaluate it."""

    name = "reflection"

    def __init__(self, client: LocalClient):
        self.client = client

    def propose(self, candidate: dict[str, str], component: str, records: Records) -> Proposed:
        predictor = predictor_of(component)
        current = candidate[predictor]
        prompt = reflection_prompt(current, records)
        completion = self.client.chat([{"role": "user", "content": prompt}])
        text = extract_instruction(completion.text)
        if reason := rejection_reason(completion.text, completion.finish_reason, prompt, current):
            return Proposed.refuse(self.name, reason, text)
        return Proposed(self.name, {predictor: text}, text=text)
