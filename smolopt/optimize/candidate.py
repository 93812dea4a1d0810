"""A GEPA candidate for a DSPy program: two text components per predictor.

GEPA evolves `dict[str, str]`. DSPy's own GEPA integration exposes only each predictor's
instruction; tiny models learn more from examples, so smolopt adds a second component per
predictor, `<name>.demos`, a JSON list of demos. A few-shot mutation is then an ordinary GEPA
mutation of that component, kept or dropped by the same minibatch acceptance as any rewrite.
"""

from __future__ import annotations

import json

import dspy

DEMOS_SUFFIX = ".demos"


def demos_key(predictor_name: str) -> str:
    return predictor_name + DEMOS_SUFFIX


def is_demos_key(component: str) -> bool:
    return component.endswith(DEMOS_SUFFIX)


def predictor_of(component: str) -> str:
    return component.removesuffix(DEMOS_SUFFIX)


def encode_demos(demos: list[dict]) -> str:
    return json.dumps(demos, ensure_ascii=False)


def decode_demos(text: str) -> list[dict]:
    return json.loads(text) if text.strip() else []


def _demo_dict(demo) -> dict:
    return dict(demo.toDict() if hasattr(demo, "toDict") else demo)


def seed_candidate(program: dspy.Module) -> dict[str, str]:
    """The program as it stands: each predictor's instruction and its (usually empty) demos."""
    candidate = {}
    for name, predictor in program.named_predictors():
        candidate[name] = predictor.signature.instructions
        candidate[demos_key(name)] = encode_demos([_demo_dict(d) for d in predictor.demos])
    return candidate


def apply_candidate(program: dspy.Module, candidate: dict[str, str]) -> dspy.Module:
    """A copy of `program` with the candidate's instructions and demos put in place."""
    built = program.deepcopy()
    for name, predictor in built.named_predictors():
        if name in candidate:
            predictor.signature = predictor.signature.with_instructions(candidate[name])
        if demos_key(name) in candidate:
            predictor.demos = [dspy.Example(**demo) for demo in decode_demos(candidate[demos_key(name)])]
    return built


def demo_count(candidate: dict[str, str]) -> int:
    return sum(len(decode_demos(text)) for key, text in candidate.items() if is_demos_key(key))
