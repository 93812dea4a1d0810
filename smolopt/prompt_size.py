"""How big a program's prompts get, estimated before any call, so nothing sent overflows the context.

The probe skips variants that would not fit and few-shot injection drops demos until they fit:
both ask this module, at the same rough rate of characters per token.
"""

from __future__ import annotations

import math
from collections.abc import Sequence

import dspy

from smolopt.registry import ModelSpec

# SmolLM2's tokenizer gives about 4 characters a token on plain English; agent traces full of calls
# and paths come nearer 3.4 (a 2,089-token prompt estimated at 1,785 at 4), so the estimate is cautious.
CHARS_PER_TOKEN = 3.4
TOKENS_PER_MESSAGE = 6  # the chat template's role markers around every message


def estimate_prompt_tokens(program: dspy.Module, adapter: dspy.Adapter, examples: Sequence[dspy.Example]) -> int:
    """The longest prompt any predictor would get over `examples`, at CHARS_PER_TOKEN characters a token.

    The prompt is formatted by the adapter that will send it, so its boilerplate counts too.
    Inputs a predictor only gets at run time (an earlier predictor's output) are not known here;
    they are short next to demos and traces.
    """
    longest = 0
    for _, predictor in program.named_predictors():
        fields = predictor.signature.input_fields
        for example in examples:
            inputs = {key: value for key, value in example.inputs().items() if key in fields}
            messages = adapter.format(predictor.signature, predictor.demos, inputs)
            size = sum(len(str(message["content"])) for message in messages) / CHARS_PER_TOKEN + TOKENS_PER_MESSAGE * len(messages)
            longest = max(longest, math.ceil(size))
    return longest


def answer_tokens(spec: ModelSpec, program: dspy.Module) -> int:
    """The longest answer the program's predictors ask for (their max_tokens), within the entry's cap:
    a label task asks a dozen tokens and a story 520, and each leaves that much of the context free."""
    asked = [predictor.config.get("max_tokens") or spec.max_tokens for _, predictor in program.named_predictors()]
    return min(max(asked, default=spec.max_tokens), spec.max_tokens)


def prompt_room(spec: ModelSpec, program: dspy.Module) -> int:
    """Prompt tokens a model can take and still have room for the program's answers."""
    return spec.context_length - answer_tokens(spec, program)
