"""An optimize run's prompts side by side: each candidate's instruction, demos and format, with a
word diff of its instruction against the seed's.

results.json keeps the seed and the shipped candidate (`seed_candidate`, `best_candidate`); a run
that also keeps every accepted one under `candidates` shows them all. Diffs are segments of plain
text tagged equal / insert / delete, so the template escapes every word the model wrote.
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
    instruction: str
    demos: list[dict[str, Any]]
    diff: list[Segment]  # instruction against the seed's (all "equal" for the seed itself)


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


def side(label: str, candidate: dict[str, str], seed: dict[str, str], predictor: str) -> PromptSide:
    instruction = str(candidate.get(predictor, ""))
    try:
        demos = decode_demos(str(candidate.get(demos_key(predictor), "")))
    except ValueError:
        demos = [{"(unreadable demos)": candidate.get(demos_key(predictor))}]
    return PromptSide(label, str(candidate.get(format_key(predictor), SEED)), instruction, demos,
                      word_diff(str(seed.get(predictor, "")), instruction))


def candidates_of(results: dict[str, Any]) -> list[tuple[str, dict[str, str]]]:
    """(label, candidate) for the seed, every accepted candidate kept, and the shipped one."""
    seed, best = results.get("seed_candidate"), results.get("best_candidate")
    if not isinstance(seed, dict) or not isinstance(best, dict):
        return []
    shown = [("seed", seed)]
    kept = results.get("candidates")
    if isinstance(kept, list):
        shown += [(f"candidate {index}" + (" (shipped)" if c == best else ""), c) for index, c in enumerate(kept) if index and isinstance(c, dict)]
    shipped = (results.get("choice") or {}).get("shipped")
    if not any(c == best for _, c in shown[1:]) and best != seed:
        shown.append((f"chosen (candidate {shipped})" if shipped is not None else "chosen", best))
    return shown


def prompt_table(results: dict[str, Any]) -> dict[str, list[PromptSide]]:
    """Predictor → its prompt in each candidate, the seed first."""
    shown = candidates_of(results)
    if not shown:
        return {}
    seed = shown[0][1]
    return {name: [side(label, candidate, seed, name) for label, candidate in shown] for name in seed if is_instruction_key(name)}
