"""The probe's weights row: what a short LoRA tune does where prompts do not (composes probe and tune).

A probe asks whether prompts can lift a model off chance; agent monitoring showed that when they
cannot, weights often can (the 135M: every prompt 12.5-37.5%, a LoRA on its 20 training traces
68.8%). So each (model, task) probe ends with a short tune of the seed program in the model's best
format, measured on the probe's own examples like every prompt variant. Those examples are val
examples, so the tune does not choose its epoch on val: it trains a fixed three epochs and keeps
the last.
"""

from __future__ import annotations

from smolopt.backends import Models
from smolopt.candidate import seed_candidate
from smolopt.errors import SmoloptError
from smolopt.evaluation import evaluate
from smolopt.probe.card import slug
from smolopt.probe.measure import measure, not_measured
from smolopt.probe.plan import ProbePlan, Variant
from smolopt.probe.verdict import WEIGHTS, Measurement
from smolopt.runs import Run
from smolopt.tune.session import in_best_format, tune_weights
from smolopt.tune.train import Settings

SHORT_TUNE = Settings(epochs=3, pick="last")


def weights_row(plan: ProbePlan, models: Models, run: Run) -> Measurement:
    """Tune `plan.model` on `plan.task`'s train split, then score the plan's examples with the adapter."""
    program = in_best_format(plan.task.program())
    variant = Variant(f"weights: LoRA r{SHORT_TUNE.rank}, {SHORT_TUNE.epochs} epochs", WEIGHTS, seed_candidate(program))
    spec = models.registry.get(plan.model)
    if not spec.started_here:  # the tuned weights would be served by another program than the prompts were
        return not_measured(variant, f"the weights row serves its adapter on the embedded llama.cpp server; '{spec.name}' is served by "
                                     f"{spec.provider} (`smolopt tune` measures a tune of its weights)")
    folder = Run(run.path / f"tune-{slug(plan.model)}-{slug(plan.task.name)}")
    folder.path.mkdir(exist_ok=True)
    try:
        _, adapter, _ = tune_weights(plan.task, [program], spec, folder, SHORT_TUNE)
    except SmoloptError as err:  # no tune extra, no weights file, too few training examples: said on the card
        return not_measured(variant, str(err))
    tuned = models.with_adapter(plan.model, adapter)
    return measure(variant, evaluate(plan.task, program, plan.examples, models.lm(tuned), split="val"))
