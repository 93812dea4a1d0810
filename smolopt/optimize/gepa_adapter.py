"""smolopt's GEPAAdapter: GEPA's search loop, smolopt's evaluation core and proposers.

GEPA keeps doing what it is good at (Pareto candidate selection, minibatch acceptance, merge,
state saving); this adapter decides how a candidate is run and how a new one is proposed:

- `evaluate` runs the candidate through the evaluation core (RawTextAdapter, LocalClient, up to
  the model's `parallel` examples at once), so a parse failure is a scored 0 with the raw text as
  feedback, never a dropped example;
- `make_reflective_dataset` hands each component the inputs, raw outputs, feedback and echoes;
- `propose_new_texts` hands a component down its chain of proposers (one protocol,
  `smolopt.optimize.proposers`): a format to the format search, demos to few-shot injection, an
  instruction to the echo guard, then the reflection model, then few-shot injection; the first
  update wins, and every answer, rejections included, goes to the journal here.
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
from smolopt.candidate import apply_candidate, is_demos_key, is_format_key, predictor_of
from smolopt.evaluation import run_examples, task_adapter
from smolopt.jsonl import append_jsonl, read_jsonl
from smolopt.optimize.proposers import Proposed, Proposer
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
        self.records = [ProposalRecord(**row) for row in read_jsonl(path)] if path is not None else []

    def add(self, component: str, proposed: Proposed) -> None:
        record = ProposalRecord(component, proposed.proposer, proposed.rejected is None, proposed.rejected or proposed.note, proposed.text)
        self.records.append(record)
        if self.path is not None:
            append_jsonl(self.path, asdict(record))

    @property
    def rejected(self) -> list[ProposalRecord]:
        return [r for r in self.records if not r.accepted_by_guard]


class SmoloptGEPAAdapter:
    """The GEPAAdapter protocol (evaluate, make_reflective_dataset, propose_new_texts) for smolopt."""

    def __init__(self, task: Task, program: dspy.Module, lm: dspy.LM, chains: dict[str, list[Proposer]], journal: Journal | None = None):
        """`chains`: the proposers tried, in order, for "format", "demos" and "instruction" components."""
        self.task = task
        self.program = program
        self.lm = lm
        self.chains = chains
        self.journal = journal or Journal()
        self.raw_adapter = task_adapter(task)
        self.metric_calls = 0
        # prompt tokens per LM call, by candidate (the iteration table's "prompt length")
        self.prompt_tokens: dict[str, float] = {}

    # --- evaluation -------------------------------------------------------------------------
    def evaluate(self, batch: list[dspy.Example], candidate: dict[str, str], capture_traces: bool = False) -> EvaluationBatch:
        program = apply_candidate(self.program, candidate)
        names = {id(predictor): name for name, predictor in program.named_predictors()}
        results = run_examples(self.task, program, batch, self.lm, self.raw_adapter, capture_traces=capture_traces)
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
    @staticmethod
    def kind(component: str) -> str:
        return "format" if is_format_key(component) else "demos" if is_demos_key(component) else "instruction"

    def propose_new_texts(
        self, candidate: dict[str, str], reflective_dataset: Mapping[str, Sequence[Mapping[str, Any]]], components_to_update: list[str]
    ) -> dict[str, str]:
        updates: dict[str, str] = {}
        for component in components_to_update:
            records = reflective_dataset.get(component, [])
            for proposer in self.chains[self.kind(component)]:
                if (proposed := proposer.propose(candidate, component, records)) is None:
                    continue
                self.journal.add(component, proposed)
                if proposed.rejected is None:
                    updates.update(proposed.updates)
                    break
        return updates
