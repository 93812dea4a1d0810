"""The capacity probe: how much prompt a model can take before the prompt stops helping.

For each (model, task) the probe evaluates variants of the task's seed program on a fixed subset of
the val split (the first n examples, so every variant and every model sees the same ones):

- format adherence: the seed under RawTextAdapter, ChatAdapter (no JSON fallback) and JSONAdapter;
- the format axis: the seed asked every way RawTextAdapter can (chat or completion, generated or
  scored, calibrated or not), so the verdict is over the model's best way of being asked;
- instruction load: 0, 1, 2, 4, 8, 16 rules from `task.rules` appended to every instruction;
- few-shot: 0, 1, 2, 4, 8 label-balanced training demos, each in up to 3 orderings;
- prohibition: the seed with "DO NOT repeat the input." appended, against the seed without it;
- echo rates per kind and the seed's label bias, read from those same evaluations.

The seed evaluation is the raw format, the 0-rule and the 0-demo point and the "without
prohibition" side at once, so it runs once. Every variant is planned before any call is made
(`plan_probe`), so the number of evaluations is known up front for a progress bar, and variants
whose prompt would clearly not fit the model's context are skipped in the plan, not discovered by
an HTTP error. The verdict and the rule budget are pure functions over the recorded numbers, so
they can be recomputed, and tested, without a model.

The package: `plan` (variants), `measure` (running them), `verdict` (the record and pure readings
over it), `card` (rendering), `weights` (the short tune's row) and `command` (`smolopt probe`).
"""

from smolopt.probe.measure import echo_rates, measure, not_measured, results_json, run_probe
from smolopt.probe.plan import (
    ADAPTERS, DEFAULT_EXAMPLES, DEMO_COUNTS, ORDERINGS, PROHIBITION, RULE_COUNTS, ProbePlan, Variant, balanced_demos,
    orderings, plan_probe, rule_counts, with_demos, with_format, with_lines,
)
from smolopt.probe.verdict import (
    CAPACITY_PROBLEM, DEFAULT_MARGIN, ECHO_KINDS, PROMPT_PROBLEM, WEIGHTS_PROBLEM, DemoPoint, Measurement, TaskProbe, Verdict, chance_level,
    demo_points, judge, rule_budget,
)

__all__ = [
    "ADAPTERS", "CAPACITY_PROBLEM", "DEFAULT_EXAMPLES", "DEFAULT_MARGIN", "DEMO_COUNTS", "ECHO_KINDS", "ORDERINGS", "PROHIBITION",
    "PROMPT_PROBLEM", "RULE_COUNTS", "WEIGHTS_PROBLEM", "DemoPoint", "Measurement", "ProbePlan", "TaskProbe", "Variant", "Verdict", "balanced_demos",
    "chance_level", "demo_points", "echo_rates", "judge", "measure", "not_measured", "orderings", "plan_probe",
    "results_json", "rule_budget", "rule_counts", "run_probe", "with_demos", "with_format", "with_lines",
]
