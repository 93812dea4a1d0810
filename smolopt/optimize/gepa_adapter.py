"""smolopt's GEPAAdapter: GEPA's search loop, smolopt's evaluation core and proposers.

GEPA keeps doing what it is good at (Pareto candidate selection, minibatch acceptance, merge,
state saving); this adapter decides how a candidate is run and how a new one is proposed:

- `evaluate` runs the candidate through the evaluation core (RawTextAdapter, LocalClient), so a
  parse failure is a scored 0 with the raw text as feedback, never a dropped example;
- `make_reflective_dataset` hands each component the inputs, raw outputs, feedback and echoes;
- `propose_new_texts` routes a component to the right proposer: a format to the format search,
  demos to few-shot injection, an instruction whose prohibitions are being echoed to the echo guard's rewrite, any other
  instruction to the reflection model, with a guarded fallback to few-shot injection when the
  reflection's proposal is rejected.
"""

from __future__ import annotations

import json
from collections.abc import Mapping, Sequence
from dataclasses import asdict, dataclass
from pathlib import Path
from typing import Any

import dspy
from gepa import EvaluationBatch

from smolopt.adapters import RAW
from smolopt.adapters.echo import is_prohibition, sentences
from smolopt.evaluate import run_example, task_adapter
from smolopt.candidate import apply_candidate, decode_demos, demos_key, encode_demos, is_demos_key, is_format_key, predictor_of
from smolopt.optimize.fewshot import FewShotProposer
from smolopt.optimize.format_search import FormatProposer
from smolopt.optimize.reflection import ReflectiveProposer
from smolopt.prompt_size import estimate_prompt_tokens
from smolopt.tasks import Task


@dataclass
class ProposalRecord:
    """One proposal as the journal keeps it (rejections included, which GEPA never sees)."""

    component: str
    proposer: str
    accepted_by_guard: bool
    note: str = ""
    text: str = ""


class Journal:
    """Every proposal made during the run, in order; kept in proposals.jsonl so a resume adds to it."""

    def __init__(self, path: Path | None = None):
        self.path = path
        self.records: list[ProposalRecord] = []
        if path is not None and path.exists():
            self.records = [ProposalRecord(**json.loads(line)) for line in path.read_text().splitlines() if line.strip()]

    def add(self, record: ProposalRecord) -> None:
        self.records.append(record)
        if self.path is not None:
            with self.path.open("a", encoding="utf-8") as fh:
                fh.write(json.dumps(asdict(record)) + "\n")

    @property
    def rejected(self) -> list[ProposalRecord]:
        return [r for r in self.records if not r.accepted_by_guard]


def without_prohibitions(instruction: str) -> str:
    """The instruction minus its "DO NOT …"/"Never …" sentences."""
    kept = [line for line in sentences(instruction) if not is_prohibition(line)]
    return " ".join(kept)


class SmoloptGEPAAdapter:
    """The GEPAAdapter protocol (evaluate, make_reflective_dataset, propose_new_texts) for smolopt."""

    def __init__(
        self,
        task: Task,
        program: dspy.Module,
        lm: dspy.LM,
        fewshot: FewShotProposer,
        reflector: ReflectiveProposer | None,
        journal: Journal | None = None,
        prompt_room: int | None = None,
        sizing_examples: list[dspy.Example] | None = None,
    ):
        self.task = task
        self.program = program
        self.lm = lm
        self.fewshot = fewshot
        self.reflector = reflector
        self.journal = journal or Journal()
        self.formats = FormatProposer(program)
        self.raw_adapter = task_adapter(task)
        self.metric_calls = 0
        # Demos are dropped until the longest prompt over these examples fits in prompt_room tokens.
        self.prompt_room = prompt_room
        self.sizing_examples = sizing_examples or fewshot.trainset
        # prompt tokens per LM call, by candidate (the iteration table's "prompt length")
        self.prompt_tokens: dict[str, float] = {}

    # --- evaluation -------------------------------------------------------------------------
    def evaluate(self, batch: list[dspy.Example], candidate: dict[str, str], capture_traces: bool = False) -> EvaluationBatch:
        program = apply_candidate(self.program, candidate)
        names = {id(predictor): name for name, predictor in program.named_predictors()}
        results = [run_example(self.task, program, example, self.lm, self.raw_adapter, capture_traces) for example in batch]
        self.metric_calls += len(batch)
        calls = sum(r.calls for r in results)
        if calls:
            self.prompt_tokens[json.dumps(candidate, sort_keys=True)] = sum(r.prompt_tokens for r in results) / calls
        trajectories = None
        if capture_traces:
            trajectories = [
                {"result": r, "steps": [(names.get(id(p), "?"), inputs, prediction) for p, inputs, prediction in r.trace]}
                for r in results
            ]
        return EvaluationBatch(
            outputs=[r.to_json() for r in results],
            scores=[r.score for r in results],
            trajectories=trajectories,
        )

    def make_reflective_dataset(
        self, candidate: dict[str, str], eval_batch: EvaluationBatch, components_to_update: list[str]
    ) -> dict[str, list[dict[str, Any]]]:
        dataset: dict[str, list[dict[str, Any]]] = {}
        for component in components_to_update:
            predictor = predictor_of(component)
            records = []
            for trajectory in eval_batch.trajectories or []:
                result = trajectory["result"]
                for name, inputs, prediction in trajectory["steps"]:
                    if name != predictor:
                        continue
                    records.append({
                        "Inputs": dict(inputs),
                        "Generated Outputs": prediction.get(RAW) or str(prediction),
                        "Feedback": result.feedback,
                        "score": result.score,
                        "example_id": result.id,
                        "echo_kinds": sorted({echo.kind for echo in result.echoes}),
                    })
            dataset[component] = records
        return dataset

    # --- proposals --------------------------------------------------------------------------
    def _fewshot_update(self, candidate: dict[str, str], predictor: str, records: Sequence[Mapping[str, Any]]) -> str:
        current = [str(demo.get("id")) for demo in decode_demos(candidate[demos_key(predictor)]) if "id" in demo]
        failing = [str(r["example_id"]) for r in records if r.get("score", 0.0) < 1.0]
        ids = self.fewshot.propose(predictor, current, failing)
        demos = self.fewshot.demos(predictor, ids)
        while demos and not self._fits(candidate, predictor, demos):
            demos = demos[:-1]
        text = encode_demos(demos)
        dropped = f" ({len(ids) - len(demos)} dropped to fit the context)" if len(demos) < len(ids) else ""
        self.journal.add(ProposalRecord(demos_key(predictor), "few-shot", True, f"{len(demos)} demos{dropped}", text))
        return text

    def _fits(self, candidate: dict[str, str], predictor: str, demos: list[dict]) -> bool:
        if self.prompt_room is None:
            return True
        built = apply_candidate(self.program, {**candidate, demos_key(predictor): encode_demos(demos)})
        return estimate_prompt_tokens(built, self.raw_adapter, self.sizing_examples) <= self.prompt_room

    def propose_new_texts(
        self, candidate: dict[str, str], reflective_dataset: Mapping[str, Sequence[Mapping[str, Any]]], components_to_update: list[str]
    ) -> dict[str, str]:
        updates: dict[str, str] = {}
        for component in components_to_update:
            records = reflective_dataset.get(component, [])
            predictor = predictor_of(component)
            if is_format_key(component):
                if (text := self.formats.propose(predictor, candidate)) is not None:
                    updates[component] = text
                    self.journal.add(ProposalRecord(component, "format", True, f"{candidate[component]} → {text}", text))
                else:  # every usable format was given to this parent already: change its demos instead
                    updates[demos_key(predictor)] = self._fewshot_update(candidate, predictor, records)
                continue
            if is_demos_key(component) or self.reflector is None:
                updates[demos_key(predictor)] = self._fewshot_update(candidate, predictor, records)
                continue
            current = candidate[predictor]
            echoed_prohibition = any("prohibition" in r.get("echo_kinds", ()) for r in records)
            if echoed_prohibition and without_prohibitions(current) != current:
                updates[predictor] = without_prohibitions(current)
                self.journal.add(ProposalRecord(predictor, "echo guard", True, "prohibition replaced by demos", updates[predictor]))
                updates[demos_key(predictor)] = self._fewshot_update(candidate, predictor, records)
                continue
            proposal = self.reflector.propose(current, records)
            self.journal.add(ProposalRecord(predictor, "reflection", proposal.rejected is None, proposal.rejected or "", proposal.text))
            if proposal.rejected is None:
                updates[predictor] = proposal.text
            else:
                updates[demos_key(predictor)] = self._fewshot_update(candidate, predictor, records)
        return updates
