"""A candidate for a DSPy program: three text components per predictor.

GEPA evolves `dict[str, str]`. DSPy's own GEPA integration exposes only each predictor's
instruction; tiny models learn more from examples and from the right format, so smolopt adds two
components per predictor: `<name>.demos`, a JSON list of demos, and `<name>.format`, how the
prompt is rendered and answered ("completion score calibrated", see smolopt.adapters.formats).
A few-shot or format mutation is then an ordinary GEPA mutation of that component, kept or
dropped by the same minibatch acceptance as any rewrite. The probe builds its variants as
candidates too, so both feature packages share this module.
"""

from __future__ import annotations

import json

import dspy

from smolopt.adapters.formats import CONFIG_KEY, SEED, Format, parse_format

DEMOS_SUFFIX = ".demos"
FORMAT_SUFFIX = ".format"


def demos_key(predictor_name: str) -> str:
    return predictor_name + DEMOS_SUFFIX


def format_key(predictor_name: str) -> str:
    return predictor_name + FORMAT_SUFFIX


def is_demos_key(component: str) -> bool:
    return component.endswith(DEMOS_SUFFIX)


def is_format_key(component: str) -> bool:
    return component.endswith(FORMAT_SUFFIX)


def is_instruction_key(component: str) -> bool:
    return not (is_demos_key(component) or is_format_key(component))


def predictor_of(component: str) -> str:
    return component.removesuffix(DEMOS_SUFFIX).removesuffix(FORMAT_SUFFIX)


def encode_demos(demos: list[dict]) -> str:
    return json.dumps(demos, ensure_ascii=False)


def decode_demos(text: str) -> list[dict]:
    return json.loads(text) if text.strip() else []


def _demo_dict(demo) -> dict:
    return dict(demo.toDict() if hasattr(demo, "toDict") else demo)


def seed_candidate(program: dspy.Module) -> dict[str, str]:
    """The program as it stands: each predictor's instruction, its (usually empty) demos, its format."""
    candidate = {}
    for name, predictor in program.named_predictors():
        candidate[name] = predictor.signature.instructions
        candidate[demos_key(name)] = encode_demos([_demo_dict(d) for d in predictor.demos])
        candidate[format_key(name)] = str(predictor.config.get(CONFIG_KEY, SEED))
    return candidate


def set_format(predictor: dspy.Predict, text: str, name: str = "") -> None:
    """Put a format in the predictor's config, where RawTextAdapter reads it; the seed's is no key at all,
    so a program that never chose a format runs exactly as plain DSPy would run it."""
    fmt = parse_format(text, f"format of predictor '{name}'")
    if fmt == SEED:
        predictor.config.pop(CONFIG_KEY, None)
    else:
        predictor.config[CONFIG_KEY] = str(fmt)


def set_formats(program: dspy.Module, fmt: Format) -> None:
    """Ask every predictor of the program in `fmt`."""
    for name, predictor in program.named_predictors():
        set_format(predictor, str(fmt), name)


def apply_candidate(program: dspy.Module, candidate: dict[str, str]) -> dspy.Module:
    """A copy of `program` with the candidate's instructions, demos and formats put in place."""
    built = program.deepcopy()
    for name, predictor in built.named_predictors():
        if name in candidate:
            predictor.signature = predictor.signature.with_instructions(candidate[name])
        if demos_key(name) in candidate:
            predictor.demos = [dspy.Example(**demo) for demo in decode_demos(candidate[demos_key(name)])]
        if format_key(name) in candidate:
            set_format(predictor, candidate[format_key(name)], name)
    return built


def formats_of(candidate: dict[str, str]) -> dict[str, str]:
    """{predictor: format text} of a candidate."""
    return {predictor_of(key): text for key, text in candidate.items() if is_format_key(key)}


def demo_count(candidate: dict[str, str]) -> int:
    return sum(len(decode_demos(text)) for key, text in candidate.items() if is_demos_key(key))


def with_feedback(program: dspy.Module, feedback: str) -> dspy.Module:
    """A copy of `program` whose every instruction ends with the metric's feedback on an earlier
    attempt: a retry on the raw path (`--refine`), in both chat and completion formats, since every
    format renders the instruction. At temperature 0 an unchanged prompt would only repeat itself."""
    retry = program.deepcopy()
    for _, predictor in retry.named_predictors():
        instructions = predictor.signature.instructions
        predictor.signature = predictor.signature.with_instructions(
            f"{instructions}\n\nAn earlier attempt fell short. {feedback.strip()}\nWrite it again, fixing that."
        )
    return retry
