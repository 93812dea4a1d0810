"""Few-shot injection: a GEPA mutation that edits a predictor's demos instead of its instruction.

A 135M model pattern-matches examples far better than it follows rules. Each proposal starts
from the parent's demos, adds the gold answers of examples the parent just failed, balances the
set across labels from the training pool, and orders it against the bias the baseline showed:
labels the model under-predicts come first, the label it over-predicts comes last (the source
article's 135M said "positive" to everything and improved once negative examples led).
"""

from __future__ import annotations

import random
from collections import Counter
from collections.abc import Callable

import dspy

from smolopt.candidate import apply_candidate, decode_demos, demos_key, encode_demos, predictor_of
from smolopt.optimize.proposers.base import Proposed, Records
from smolopt.prompt_size import estimate_prompt_tokens

DemoFn = Callable[[dspy.Example, str], dict | None]


def bias_order(labels: tuple[str, ...], predicted: Counter, gold: Counter) -> list[str]:
    """Labels sorted from most under-predicted to most over-predicted (predicted / gold)."""
    def ratio(label: str) -> float:
        return predicted.get(label, 0) / max(gold.get(label, 0), 1)
    return sorted(labels, key=lambda label: (ratio(label), labels.index(label)))


class PromptFit:
    """Whether a candidate's prompts fit the student's context, judged before anything is sent."""

    def __init__(self, program: dspy.Module, adapter: dspy.Adapter, examples: list[dspy.Example], room: int | None):
        self.program, self.adapter, self.examples, self.room = program, adapter, examples, room

    def __call__(self, candidate: dict[str, str]) -> bool:
        if self.room is None:
            return True
        return estimate_prompt_tokens(apply_candidate(self.program, candidate), self.adapter, self.examples) <= self.room


class FewShotProposer:
    """Proposes a new demo list for one predictor from failures, balanced and bias-ordered."""

    name = "few-shot"

    def __init__(
        self,
        trainset: list[dspy.Example],
        demo_for: DemoFn,
        label_of: Callable[[dspy.Example], str | None],
        order: list[str] | None = None,
        per_label: int = 1,
        max_demos: int = 6,
        seed: int = 0,
        fits: Callable[[dict[str, str]], bool] = lambda candidate: True,
    ):
        self.trainset = trainset
        self.by_id = {str(example.get("id")): example for example in trainset}
        self.demo_for = demo_for
        self.label_of = label_of
        self.order = order or []
        self.per_label = per_label
        self.max_demos = max_demos
        self.rng = random.Random(seed)
        self.fits = fits

    def propose(self, candidate: dict[str, str], component: str, records: Records) -> Proposed:
        """New demos for the component's predictor; demos that would overflow the context are dropped."""
        predictor = predictor_of(component)
        key = demos_key(predictor)
        current = [str(demo.get("id")) for demo in decode_demos(candidate[key]) if "id" in demo]
        failing = [str(r["example_id"]) for r in records if r.get("score", 0.0) < 1.0]
        ids = self.pick(current, failing)
        demos = self.demos(predictor, ids)
        while demos and not self.fits({**candidate, key: encode_demos(demos)}):
            demos = demos[:-1]
        dropped = f" ({len(ids) - len(demos)} dropped to fit the context)" if len(demos) < len(ids) else ""
        text = encode_demos(demos)
        return Proposed(self.name, {key: text}, f"{len(demos)} demos{dropped}", text=text)

    def _label(self, example_id: str) -> str | None:
        example = self.by_id.get(example_id)
        return self.label_of(example) if example is not None else None

    def pick(self, current_ids: list[str], failing_ids: list[str]) -> list[str]:
        """Example ids for the new demo list: the parent's, two fresh failures, label balance, bias order."""
        chosen = [i for i in current_ids if i in self.by_id]
        fresh = [i for i in failing_ids if i in self.by_id and i not in chosen]
        self.rng.shuffle(fresh)
        chosen += fresh[:2]
        if self.order:
            counts = Counter(self._label(i) for i in chosen)
            want = max(self.per_label, max(counts.values(), default=0))
            for label in self.order:
                pool = [str(e.get("id")) for e in self.trainset if self.label_of(e) == label and str(e.get("id")) not in chosen]
                self.rng.shuffle(pool)
                chosen += pool[: max(0, want - counts.get(label, 0))]
            chosen = self._trim_balanced(chosen)
            rank = {label: index for index, label in enumerate(self.order)}
            chosen.sort(key=lambda i: rank.get(self._label(i), len(rank)))
        elif not chosen:
            pool = [str(e.get("id")) for e in self.trainset]
            chosen = self.rng.sample(pool, min(2, len(pool)))
        return chosen[: self.max_demos]

    def _trim_balanced(self, ids: list[str]) -> list[str]:
        """Drop from the largest label group (oldest first) until the cap holds."""
        ids = list(ids)
        while len(ids) > self.max_demos:
            counts = Counter(self._label(i) for i in ids)
            biggest = max(counts, key=lambda label: (counts[label], -self.order.index(label) if label in self.order else 0))
            ids.remove(next(i for i in ids if self._label(i) == biggest))
        return ids

    def demos(self, predictor: str, ids: list[str]) -> list[dict]:
        """Demo dicts for `predictor`, each tagged with the example id it came from."""
        out = []
        for example_id in ids:
            demo = self.demo_for(self.by_id[example_id], predictor)
            if demo is not None:
                out.append({"id": example_id, **demo})
        return out
