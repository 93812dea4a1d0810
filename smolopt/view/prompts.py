"""An optimize run's prompts side by side: each candidate's format, instruction and demos as one
text, with a word diff against the seed's (a demo few-shot injection added shows as inserted).

results.json keeps the seed and the shipped candidate (`seed_candidate`, `best_candidate`); where
the iteration rows also keep each accepted candidate's texts (`prompt`), all of them are shown.
Diffs are segments of plain text tagged equal / insert / delete, so the template escapes every
word the model wrote.
"""

from __future__ import annotations

import difflib
import re
from dataclasses import dataclass
from typing import Any

from smolopt.adapters.formats import SEED
from smolopt.candidate import decode_demos, demos_key, format_key, is_instruction_key

_TOKENS = re.compile(r"\s+|[^\s]+")


@dataclass(frozen=True)
class Segment:
    op: str  # "equal", "insert" or "delete"
    text: str


@dataclass(frozen=True)
class PromptSide:
    """One predictor's prompt in one candidate."""

    label: str
    format: str
    demos: int
    diff: list[Segment]  # the prompt as text against the seed's (all "equal" for the seed itself)


def word_diff(before: str, after: str) -> list[Segment]:
    """Word-level diff of `after` against `before` (whitespace kept, so the text reads as written)."""
    old, new = _TOKENS.findall(before), _TOKENS.findall(after)
    segments: list[Segment] = []
    for op, i1, i2, j1, j2 in difflib.SequenceMatcher(a=old, b=new, autojunk=False).get_opcodes():
        if op in ("delete", "replace"):
            segments.append(Segment("delete", "".join(old[i1:i2])))
        if op in ("insert", "replace"):
            segments.append(Segment("insert", "".join(new[j1:j2])))
        if op == "equal":
            segments.append(Segment("equal", "".join(old[i1:i2])))
    return segments


def demos_of(candidate: dict[str, str], predictor: str) -> list[dict[str, Any]]:
    try:
        return decode_demos(str(candidate.get(demos_key(predictor), "")))
    except ValueError:
        return [{"unreadable demos": candidate.get(demos_key(predictor))}]


def prompt_text(candidate: dict[str, str], predictor: str) -> str:
    """Format, instruction and each demo's fields, one per line: what a diff can compare."""
    lines = [f"format: {candidate.get(format_key(predictor), SEED)}", str(candidate.get(predictor, "")).strip()]
    for number, demo in enumerate(demos_of(candidate, predictor), start=1):
        lines.append(f"demo {number}: " + " · ".join(f"{key}: {value}" for key, value in demo.items() if key != "id"))
    return "\n".join(lines)


def side(label: str, candidate: dict[str, str], seed: dict[str, str], predictor: str) -> PromptSide:
    return PromptSide(label, str(candidate.get(format_key(predictor), SEED)), len(demos_of(candidate, predictor)),
                      word_diff(prompt_text(seed, predictor), prompt_text(candidate, predictor)))


def candidates_of(results: dict[str, Any]) -> list[tuple[str, dict[str, str]]]:
    """(label, candidate) for the seed, every accepted candidate whose texts its iteration row keeps
    (`prompt`), and the shipped one."""
    seed, best = results.get("seed_candidate"), results.get("best_candidate")
    if not isinstance(seed, dict) or not isinstance(best, dict):
        return []
    shipped = (results.get("choice") or {}).get("shipped")
    shown = [("seed", seed)]
    for row in results.get("iterations") or []:
        if isinstance(row, dict) and row.get("candidate") and isinstance(row.get("prompt"), dict):
            shown.append((f"candidate {row['candidate']}" + (" (shipped)" if row["candidate"] == shipped else ""), row["prompt"]))
    if best != seed and not any(candidate == best for _, candidate in shown[1:]):
        shown.append((f"chosen (candidate {shipped})", best))
    return shown


def prompt_table(results: dict[str, Any]) -> dict[str, list[PromptSide]]:
    """Predictor → its prompt in each candidate, the seed first."""
    shown = candidates_of(results)
    if not shown:
        return {}
    seed = shown[0][1]
    return {name: [side(label, candidate, seed, name) for label, candidate in shown] for name in seed if is_instruction_key(name)}
