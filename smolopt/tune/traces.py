"""The steps a multi-step program trains on, gathered as DSPy's BootstrapFinetune gathers them.

Where a task's data has no text for a program's inner steps (long_story's chapter plans), the
student writes them: the program runs on the train and val splits with the
student through the normal model path, with DSPy tracing on, and every predictor call of an
example the task metric scored right becomes a step to train on, with the outputs the model wrote
there. A step whose output could not be read has no text to learn and is left out.

"Scored right" is a score of at least RIGHT, the bar below which a composite metric reports a part
as failing (smolopt.metrics.parts.PASSING, 0.8). Label metrics score 0 or 1, so there it is the gold
label; on multihop_qa (0.3·exact match + 0.7·token F1) only an exact match reaches it, since F1
alone tops out at 0.7; on long_story (chapter length, with structure when the story is long
enough to measure) it asks for chapters at or near their word range. Measured with SmolLM2-135M
and each task's seed program on its train split: multihop_qa 0 of 16 (best 0.31), long_story 2 of
12 (0.52 to 0.92, median 0.63): traced alone, both are refused until a better program (or more
examples) gives MIN_TRAIN right ones; DSPy's own filter (any score above 0) would have trained
multihop_qa on 5 wrong answers and long_story on all 12. multihop_qa now trains on the steps its
data gives (below); long_story has no reference stories to cut into steps, so it still needs them.

This runs before transformers loads, and the connections it opens (an embedded server among them)
are closed when it returns: the llama.cpp server and training never share the two cores. Its calls
go to the run's cache, so a resumed tune reads the same steps back without asking the model again.
What it found (examples tried, scored right, steps per predictor) is recorded in the run as
RECORD for the tune's results and report.

Gold steps. A task whose data says what each step should have said gives them through its `demo`
hook (the one few-shot injection builds demos from): multihop_qa's rows carry `bridge` beside
`answer`, so reason → bridge and candidate, verify → answer come from every row, right or not.
Those steps are taken from the data for every example and predictor the hook covers, and the
program is traced (on the model) only for the examples some predictor still lacks a step for: a
task whose hook covers every step trains without asking the model anything first.
"""

from __future__ import annotations

from collections import Counter
from dataclasses import dataclass
from typing import Any

import dspy

from smolopt.backends import Models
from smolopt.errors import SmoloptError
from smolopt.evaluation import evaluate
from smolopt.metrics.parts import PASSING
from smolopt.registry import ModelSpec, Registry
from smolopt.runs import Run
from smolopt.tasks import Task
from smolopt.tune.examples import Step, is_multi_step
from smolopt.tune.train import MIN_TRAIN

RIGHT = PASSING
RECORD = "steps.json"
SPLITS = ("train", "val")


@dataclass(frozen=True)
class Traced:
    """One split's traces of one program: examples tried, the ids of those scored right, their steps."""

    tried: int
    kept: list[str]  # examples with steps: from the data, or scored right
    steps: list[Step]
    gold: int = 0  # how many of the steps came from the data


def gold_steps(task: Task, program: dspy.Module, examples: list[dspy.Example]) -> list[Step]:
    """The steps the task's data gives (its `demo` hook), one per example and predictor it covers:
    the predictor's input fields as inputs, its output fields as the outputs to learn."""
    if task.demo is None:
        return []
    steps = []
    for example in examples:
        for name, predictor in program.named_predictors():
            given = task.demo(example, name) or {}
            fields = {**predictor.signature.input_fields, **predictor.signature.output_fields}
            if all(given.get(field) not in (None, "") for field in fields):
                steps.append(Step(str(example.get("id")), name, {f: given[f] for f in predictor.signature.input_fields},
                                  {f: given[f] for f in predictor.signature.output_fields}))
    return steps


def _traced(task: Task, program: dspy.Module, split: str, models: Models, student: str) -> Traced:
    """Gold steps where the data gives them, and the model's steps on the examples it gets right
    for the rest (its server is started only then)."""
    names = {id(predictor): name for name, predictor in program.named_predictors()}
    examples = task.split(split)
    gold = gold_steps(task, program, examples)
    covered = {(step.example, step.predictor) for step in gold}
    lacking = [example for example in examples if any((str(example.get("id")), name) not in covered for name in names.values())]
    if not lacking:
        return Traced(len(examples), sorted({step.example for step in gold}), gold, len(gold))
    result = evaluate(task, program, lacking, models.lm(student), split=split, capture_traces=True)
    right = [example for example in result.examples if example.score >= RIGHT]
    steps = [Step(example.id, names[id(predictor)], dict(inputs), {name: prediction.get(name) for name in predictor.signature.output_fields})
             for example in right for predictor, inputs, prediction in example.trace]
    steps = [step for step in steps if None not in step.outputs.values() and (step.example, step.predictor) not in covered]
    kept = sorted({step.example for step in gold} | {example.id for example in right})
    return Traced(len(examples), kept, gold + steps, len(gold))


def _counts(traced: list[Traced]) -> dict[str, Any]:
    """One split summed over the traced programs: examples tried and scored right, steps per predictor."""
    return {"tried": sum(t.tried for t in traced), "kept": sum(len(t.kept) for t in traced), "gold": sum(t.gold for t in traced),
            "pairs": dict(Counter(step.predictor for t in traced for step in t.steps))}


def _enough(task: Task, spec: ModelSpec, split: str, counts: dict[str, Any]) -> None:
    """Refuse, in one line, a split whose right answers are too few to train on (train) or to choose the epoch on (val)."""
    needed = MIN_TRAIN if split == "train" else 1
    if counts["kept"] >= needed:
        return
    use = "trains on the steps of the training examples" if split == "train" else "chooses its epoch on the steps of the val examples"
    raise SmoloptError(
        f"task '{task.name}': a multi-step program {use} it gets right (score ≥ {RIGHT}), and {spec.name} got {counts['kept']} of "
        f"{counts['tried']} right; tune needs at least {needed}: tune a program that scores better (smolopt optimize, then "
        f"smolopt tune --program its program.json) or add {split} examples")


def trace_steps(task: Task, programs: list[dspy.Module], spec: ModelSpec, run: Run) -> list[dict[str, Traced] | None]:
    """Each multi-step program's kept steps on train and val ({split: Traced}; None for a
    one-predictor program, which trains on gold targets), with `spec` answering; writes RECORD."""
    multi = {index: program for index, program in enumerate(programs) if is_multi_step(program)}
    if not multi:
        return [None] * len(programs)
    traced: dict[int, dict[str, Traced]] = {index: {} for index in multi}
    counts = {}
    # The run's own connections, for this model alone: its calls are logged and cached in the run.
    registry = Registry(path=str(run.path / "config.json"), models={spec.name: spec}, default_student=spec.name)
    with run.models(registry) as models:
        for split in SPLITS:  # train first: too few right there is said before val is run
            for index, program in multi.items():
                traced[index][split] = _traced(task, program, split, models, spec.name)
            counts[split] = _counts([traced[index][split] for index in multi])
            _enough(task, spec, split, counts[split])
    run.write_json(RECORD, {"threshold": RIGHT, **counts})
    return [traced.get(index) for index in range(len(programs))]


def recorded_steps(run: Run) -> dict[str, Any] | None:
    """What a tune's traces gave, as trace_steps recorded it in the run (None: one-predictor programs only)."""
    return run.read_json(RECORD) if (run.path / RECORD).is_file() else None
