"""The baseline to beat: sentence embeddings and a logistic regression, no language model.

A person with a labeled CSV could skip the language model: embed each input with
all-MiniLM-L6-v2 (the similarity metric's model, `smolopt.metrics.similarity`) and fit
scikit-learn's logistic regression on the same train+val rows the arms learn and choose from,
then score the same test split. Reports show it beside the arms, with its 95% interval, so an arm
that does not beat it is seen not to need a language model.

Only label tasks have one (a free-text task gets None). It needs the `similarity` extra; without it
the run goes on with a notice. Embedding runs on the CPU's cores, so callers measure it before or
after a local model server generates, never while.

Cost on 2 cores, `embedding_baseline` called twice in a fresh process per task: the first call,
which loads the ~90 MB model, 12 s on sentiment (252 short texts: train+val+test), 14 s on
agent_monitor (48 traces) and 14 s on commonsense_mc (160 questions); a second call 2.7 s, 5.7 s
and 3.1 s. The model reads 256 word pieces: 27 of agent_monitor's 48 traces are longer, and it
sees their beginning only.
"""

from __future__ import annotations

import importlib.util
import time
from dataclasses import dataclass
from typing import Any

import dspy

from smolopt.adapters.completion import labelled, render_value
from smolopt.metrics import similarity
from smolopt.report import Section, pct
from smolopt.stats import bootstrap_interval
from smolopt.tasks import Task

METHOD = "all-MiniLM-L6-v2 embeddings + logistic regression"
# Where results.json keeps it, in optimize and tune runs alike (an optimize run's "baseline" is the seed program's test summary).
RESULTS_KEY = "embeddings_baseline"


@dataclass(frozen=True)
class Baseline:
    """The embeddings baseline on a task's test split (numbers only)."""

    accuracy: float
    interval: tuple[float, float]  # 95% bootstrap interval of the accuracy
    n: int  # test examples scored
    trained_on: int  # train+val rows the regression was fitted on
    correct: dict[str, bool]  # test example id -> predicted the gold label
    seconds: float  # embedding (model load included) + fitting + predicting

    def to_json(self) -> dict[str, Any]:
        return {"method": METHOD, "accuracy": self.accuracy, "interval": list(self.interval), "n": self.n,
                "trained_on": self.trained_on, "seconds": self.seconds, "correct": self.correct}


def unavailable() -> str | None:
    """Why the baseline cannot be measured here (the `similarity` extra is missing), or None."""
    if why := similarity.unavailable():
        return why
    return None if importlib.util.find_spec("sklearn") else f"scikit-learn not installed: {similarity.EXTRA}"


def input_text(task: Task, example: dspy.Example) -> str:
    """The example's inputs as the program sees them: one field's value alone, several as "Field: value" lines."""
    if len(task.inputs) == 1:
        return render_value(example.get(task.inputs[0]))
    return "\n".join(labelled(name, example.get(name)) for name in task.inputs if example.get(name) is not None)


def embedding_baseline(task: Task, notices: list[str]) -> Baseline | None:
    """The baseline on `task`'s test split, trained on train+val; None for a free-text task, and
    None with a line added to `notices` when it cannot be measured here."""
    if not task.labels:
        return None
    if why := unavailable():
        notices.append(f"no embeddings baseline ({METHOD}): {why}")
        return None
    fit, test = task.split("train") + task.split("val"), task.split("test")
    gold = [task.gold_label(example) for example in fit]
    if len(set(gold)) < 2 or not test:
        notices.append(f"no embeddings baseline: it needs two labels or more in train+val (found {len(set(gold))}) and a test split "
                       f"({len(test)} examples)")
        return None
    from sklearn.linear_model import LogisticRegression

    started = time.perf_counter()
    # Default C=1: on test, C from 0.1 to 100 moved sentiment within 79–81% and commonsense_mc within
    # 16–20%, and LogisticRegressionCV on train+val picked no better C (79%, 50%, 19%). lbfgs has no
    # randomness; random_state is fixed so a solver change cannot add any.
    regression = LogisticRegression(max_iter=1000, random_state=0)
    regression.fit(similarity.embed([input_text(task, example) for example in fit]), gold)
    predicted = regression.predict(similarity.embed([input_text(task, example) for example in test]))
    correct = {str(example.get("id")): str(label) == task.gold_label(example) for example, label in zip(test, predicted, strict=True)}
    scores = [float(right) for right in correct.values()]
    return Baseline(sum(scores) / len(scores), bootstrap_interval(scores), len(scores), len(fit), correct,
                    time.perf_counter() - started)


def baseline_section(baseline: Baseline) -> Section:
    """The baseline as one report table, with a note that says what it means."""
    low, high = baseline.interval
    return Section("the baseline to beat: no language model", ["method", "trained on", "test [95% CI]", "seconds"],
                   [[METHOD, f"{baseline.trained_on} train+val rows", f"{pct(baseline.accuracy)} [{pct(low)}, {pct(high)}]",
                     f"{baseline.seconds:.1f}"]],
                   note=f"Sentence embeddings of the same inputs and a logistic regression, fitted on the same train+val rows, score "
                        f"{pct(baseline.accuracy)} on the same {baseline.n} test examples: an arm below that does not need a language model.")
