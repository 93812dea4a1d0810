"""Reading typed values out of a tiny model's free text.

A 135M model rarely answers in the form it was asked for: it adds "**", repeats the field label,
writes "The sentiment is Positive." or lists every label. These functions try, in order, the
forms such a model really produces, and say plainly when none fits, instead of raising.
"""

from __future__ import annotations

import enum
import json
import math
import re
import types
import typing
from dataclasses import dataclass

_MARKUP = re.compile(r"[*_`#\"'“”‘’\[\]]")
_NUMBER = re.compile(r"[-+]?\d[\d,]*(?:\.\d+)?(?:[eE][-+]?\d+)?")
_TRUE = {"yes", "true", "y", "correct", "1"}
_FALSE = {"no", "false", "n", "incorrect", "0"}


class ParseFailure(ValueError):
    """The text holds no value of the asked type; the message says what came back instead."""


@dataclass(frozen=True)
class LabelSpec:
    """The allowed labels of a Literal/Enum field, with declared synonyms (alias -> label)."""

    labels: tuple[str, ...]
    synonyms: dict[str, str]

    def lookup(self, text: str) -> str | None:
        key = normalize(text)
        for label in self.labels:
            if normalize(label) == key:
                return label
        for alias, label in self.synonyms.items():
            if normalize(alias) == key:
                return label
        return None


def normalize(text: str) -> str:
    """Lower case, markup and edge punctuation removed, whitespace collapsed."""
    text = _MARKUP.sub("", text).strip().lower()
    return re.sub(r"\s+", " ", text).strip(" .,:;!?()-")


def field_label(name: str) -> str:
    """'supporting_titles' -> 'Supporting titles': the label a field gets in the prompt."""
    words = name.replace("_", " ").strip()
    return words[:1].upper() + words[1:]


def split_labelled(text: str, labels: dict[str, str]) -> dict[str, str]:
    """Find `Label: value` sections for the given {field: label}, in any order or case.

    A section runs until the next known label at the start of a line. The first occurrence of a
    label wins, so a model that repeats its answer does not overwrite it.
    """
    names = {normalize(label): field for field, label in labels.items()}
    pattern = re.compile(
        r"^[ \t>*_#-]*(" + "|".join(re.escape(label) for label in labels.values()) + r")[ \t*_]*:[ \t*_]*",
        re.IGNORECASE | re.MULTILINE,
    )
    found: dict[str, str] = {}
    matches = list(pattern.finditer(text))
    for current, following in zip(matches, matches[1:] + [None]):
        end = following.start() if following else len(text)
        field = names[normalize(current.group(1))]
        found.setdefault(field, text[current.end():end].strip())
    return found


def first_line(text: str) -> str:
    for line in text.splitlines():
        if line.strip():
            return line.strip()
    return ""


def _mentions(text: str, spec: LabelSpec) -> list[tuple[int, str]]:
    """(position, label) for every label or synonym named in the text, earliest first."""
    hits = []
    for alias, label in [(label, label) for label in spec.labels] + list(spec.synonyms.items()):
        if len(alias) == 1:  # single letters (A-E) only count as capitals standing alone
            pattern = rf"(?<![A-Za-z]){re.escape(alias)}(?![A-Za-z'])"
            flags = 0
        else:
            pattern = rf"(?<![a-z0-9]){re.escape(alias.lower())}(?![a-z0-9])"
            flags = re.IGNORECASE
        for match in re.finditer(pattern, text if len(alias) == 1 else text.lower(), flags):
            hits.append((match.start(), label))
    return sorted(hits)


def parse_label(text: str, spec: LabelSpec) -> str:
    """The label meant by `text`: exact (after clean-up), then the first line, then a scan."""
    if (label := spec.lookup(text)) is not None:
        return label
    line = first_line(text)
    if (label := spec.lookup(line)) is not None:
        return label
    # "B) ice", "(B) ice", "B. ice": a choice letter leading the line
    if lead := re.match(r"^\(?([A-Za-z0-9]{1,2})[\).:]\s", line):
        if (label := spec.lookup(lead.group(1))) is not None and len(lead.group(1)) == 1:
            return label
    line_hits = {label for _, label in _mentions(line, spec)}
    if len(line_hits) == 1:
        return line_hits.pop()
    if hits := _mentions(text, spec):
        return hits[0][1]
    shown = first_line(text)[:80] or "(empty)"
    raise ParseFailure(f"expected one of {', '.join(spec.labels)} but the model said: {shown!r}")


def parse_bool(text: str) -> bool:
    for word in re.findall(r"[a-z0-9]+", first_line(text).lower())[:3]:
        if word in _TRUE:
            return True
        if word in _FALSE:
            return False
    raise ParseFailure(f"expected yes/no but the model said: {first_line(text)[:80]!r}")


def parse_number(text: str, kind: type) -> int | float:
    match = _NUMBER.search(text)
    if not match:
        raise ParseFailure(f"expected a number but the model said: {first_line(text)[:80]!r}")
    value = float(match.group().replace(",", ""))
    if not math.isfinite(value):
        raise ParseFailure(f"expected a number but the model said one too large to read: {match.group()[:40]!r}")
    return int(value) if kind is int else value


def parse_list(text: str) -> list[str]:
    stripped = text.strip()
    if stripped.startswith("["):
        try:
            value = json.loads(stripped)
            if isinstance(value, list):
                return [str(item) for item in value]
        except (json.JSONDecodeError, RecursionError):  # deeply nested brackets are not a list worth reading
            pass
    parts = re.split(r"\n|,|;", stripped.strip("[]"))
    items = [re.sub(r"^\s*(?:[-*•]|\d+[.)])\s*", "", part).strip().strip("'\"") for part in parts]
    return [item for item in items if item]


def label_spec(annotation, synonyms: dict[str, str] | None = None) -> LabelSpec | None:
    """A LabelSpec when the annotation is a Literal or an Enum, else None."""
    if typing.get_origin(annotation) is typing.Literal:
        labels = tuple(str(arg) for arg in typing.get_args(annotation))
    elif isinstance(annotation, type) and issubclass(annotation, enum.Enum):
        labels = tuple(str(member.value) for member in annotation)
    else:
        return None
    return LabelSpec(labels, dict(synonyms or {}))


def coerce(text: str, annotation, spec: LabelSpec | None = None):
    """Turn a field's text into the annotated type, or raise ParseFailure saying why not."""
    text = text.strip()
    if spec is not None:
        label = parse_label(text, spec)
        if isinstance(annotation, type) and issubclass(annotation, enum.Enum):
            return annotation(label)
        return label
    origin = typing.get_origin(annotation)
    if origin in (typing.Union, types.UnionType):
        inner = [arg for arg in typing.get_args(annotation) if arg is not type(None)]
        return coerce(text, inner[0]) if len(inner) == 1 else text
    if annotation is bool:
        return parse_bool(text)
    if annotation in (int, float):
        return parse_number(text, annotation)
    if annotation is list or origin is list:
        return parse_list(text)
    if not text:
        raise ParseFailure("the model returned nothing for this field")
    return text
