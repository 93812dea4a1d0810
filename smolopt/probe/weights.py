"""The probe's weights row: what a short LoRA tune does where prompts do not (composes probe and tune).

A probe asks whether prompts can lift a model off chance; agent monitoring showed that when they
cannot, weights often can (the 135M: every prompt 12.5-37.5%, a LoRA on its 20 training traces
68.8%). So each (model, task) probe ends with a short tune of the seed program in the model's best
format, measured on the probe's own examples like every prompt variant. Those examples are val
examples, so the tune does not choose its epoch on val: it trains a fixed three epochs and keeps
the last.

A model smolopt does not start (LM Studio, Ollama, llama-server) is tuned from the GGUF its entry
names (`gguf = PATH`) and its row measured on an embedded llama.cpp twin serving that file with the
adapter (`smolopt.registry.embedded_twin`); the row's name says so. An entry naming no GGUF gets the
tune's own one-line reason; an `hf` entry's adapter needs vLLM, which smolopt does not start.
"""

from __future__ import annotations

from dataclasses import replace

from smolopt.backends import Models
from smolopt.candidate import seed_candidate
from smolopt.errors import SmoloptError
from smolopt.evaluation import evaluate
from smolopt.probe.card import slug
from smolopt.probe.measure import measure, not_measured
from smolopt.probe.plan import ProbePlan, Variant
from smolopt.probe.verdict import WEIGHTS, Measurement
from smolopt.registry import embedded_twin
from smolopt.runs import Run
from smolopt.tune.session import in_best_format, tunable, tune_weights
from smolopt.tune.train import Settings

SHORT_TUNE = Settings(epochs=3, pick="last", device="auto")


def weights_row(plan: ProbePlan, models: Models, run: Run) -> Measurement:
    """Tune `plan.model` on `plan.task`'s train split, then score the plan's examples with the adapter."""
    program = in_best_format(plan.task.program())
    variant = Variant(f"weights: LoRA r{SHORT_TUNE.rank}, {SHORT_TUNE.epochs} epochs", WEIGHTS, seed_candidate(program))
    spec = models.registry.get(plan.model)
    if spec.hf:  # the adapter would be a peft folder, served by vLLM
        return not_measured(variant, f"'{spec.name}' names a Hugging Face folder (hf), whose adapter vLLM serves and smolopt starts no vLLM "
                                     "(`smolopt tune` writes it and its serve.sh)")
    try:
        tunable(spec)  # an entry naming no weights file: its one line, and no tune folder
        folder = Run(run.path / f"tune-{slug(plan.model)}-{slug(plan.task.name)}")
        folder.path.mkdir(exist_ok=True)
        _, adapter, _ = tune_weights(plan.task, [program], spec, folder, SHORT_TUNE)
    except SmoloptError as err:  # no tune extra, no weights file, too few training examples: said on the card
        return not_measured(variant, str(err))
    models.registry, served = embedded_twin(models.registry, plan.model)  # the model itself when smolopt starts it
    if served != spec.name:
        variant = replace(variant, name=f"{variant.name}, on llama.cpp serving {spec.gguf} ({spec.provider} serves the prompt rows)")
    tuned = models.with_adapter(served, adapter)
    return measure(variant, evaluate(plan.task, program, plan.examples, models.lm(tuned), split="val"))
