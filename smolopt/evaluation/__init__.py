"""Evaluation: the core every command scores with (`core`), and `smolopt eval` itself (`command`).

The package exports the core only, so `optimize`, `probe` and `tune` import it without pulling in
the eval command's run scaffold.
"""

from smolopt.evaluation.core import EvalResult, ExampleResult, Progress, evaluate, run_examples, score_prediction, task_adapter

__all__ = ["EvalResult", "ExampleResult", "Progress", "evaluate", "run_examples", "score_prediction", "task_adapter"]
