"""Ship rules on resampled splits: how often each ships the arm best on test, and the test points it loses.

    python scripts/bench_decision.py --run runs/<id> [--run runs/<id> ...] [--splits 2000]
    python scripts/bench_decision.py --simulate      # synthetic score vectors: evidence for the rule, not the benchmark

Input: run folders of `smolopt optimize TASK --weights lora`, whose results.json keeps each arm's
score on every val and test example (`weights.examples`). For each run and each of `--splits`
resamples, a rule (`smolopt.optimize.decision.RULES`) decides between prompt, weights and both on
the resampled val; the bench counts a hit when the shipped arm scores best on the resampled test
(a tie for best counts), and its regret is the best arm's test score minus the shipped one's, in
points. Two resamplings:

    pooled   val and test pooled, a val of the run's val size drawn without replacement, the rest
             as test: splits as the run could have been given them
    within   val drawn with replacement from the run's val, test from its test: the arms were
             searched on that very val (GEPA kept the candidates best there, val picked the
             epoch), so their val scores are flattered; this keeps the flattery, pooling dilutes it

"best over val+test" is what a rule that knew every example would ship: even it loses points
against a small test's own best arm, which no rule can see. Runs of one task are averaged. The
section in BENCHMARKS.md is written only from real runs; `--simulate` prints its tables.
"""

from __future__ import annotations

import argparse
import json
import math
import random
import sys
from collections import Counter
from collections.abc import Callable, Iterable, Iterator, Sequence
from dataclasses import dataclass, field
from pathlib import Path
from statistics import NormalDist

sys.path.insert(0, str(Path(__file__).resolve().parent))
from benchmd import preamble, write_section  # noqa: E402

from smolopt.errors import SmoloptError  # noqa: E402
from smolopt.optimize.decision import RULES, Rule  # noqa: E402
from smolopt.report import markdown_table, pct  # noqa: E402

ORACLE = "best over val+test (no rule can know it)"
Split = tuple[Sequence[str], Sequence[str]]  # (val ids, test ids); ids may repeat (resampled with replacement)


@dataclass(frozen=True)
class RunScores:
    """One run: each shippable arm's score on every val and test example (arm -> example id -> score), simplest arm first."""

    task: str
    val: dict[str, dict[str, float]]
    test: dict[str, dict[str, float]]

    @property
    def arms(self) -> list[str]:
        return list(self.val)

    def score(self, arm: str, example: str) -> float:
        return self.val[arm][example] if example in self.val[arm] else self.test[arm][example]


def read_run(folder: Path) -> RunScores:
    """The per-example scores a `--weights lora` run recorded; one clear line when it recorded none."""
    path = folder / "results.json"
    try:
        results = json.loads(path.read_text(encoding="utf-8"))
    except (OSError, json.JSONDecodeError) as error:
        raise SmoloptError(f"{path}: cannot read it ({error})") from error
    examples = (results.get("weights") or {}).get("examples")
    if not examples:
        raise SmoloptError(f"{path}: no 'weights.examples' (per-example scores): not a run of `smolopt optimize TASK --weights lora`, "
                           "or one from before they were recorded")
    val = examples["val"]
    missing = [arm for arm in val if arm not in examples["test"]]
    if missing:
        raise SmoloptError(f"{path}: arms {missing} have val scores but no test scores")
    return RunScores(results["task"], val, {arm: examples["test"][arm] for arm in val})


@dataclass
class Tally:
    """One rule over many splits."""

    splits: int = 0
    hits: int = 0
    lost: float = 0.0  # test points lost against the split's best arm, summed
    shipped: Counter = field(default_factory=Counter)

    def add(self, other: Tally) -> None:
        self.splits += other.splits
        self.hits += other.hits
        self.lost += other.lost
        self.shipped.update(other.shipped)

    @property
    def hit_rate(self) -> float:
        return self.hits / self.splits if self.splits else 0.0

    @property
    def regret(self) -> float:
        """Mean test points lost."""
        return self.lost / self.splits if self.splits else 0.0


def _mean(values: Sequence[float]) -> float:
    return sum(values) / len(values) if values else 0.0


def measure(run: RunScores, rules: dict[str, Rule], splits: Iterable[Split]) -> dict[str, Tally]:
    """Each rule, and the oracle that ships the arm best over all the run's examples, over `splits`."""
    everything = [*run.val[run.arms[0]], *run.test[run.arms[0]]]
    overall = {arm: _mean([run.score(arm, e) for e in everything]) for arm in run.arms}
    oracle = max(run.arms, key=lambda arm: overall[arm])  # max keeps the first (simplest) of tied arms
    tallies = {name: Tally() for name in [*rules, ORACLE]}
    for val_ids, test_ids in splits:
        on_test = {arm: _mean([run.score(arm, e) for e in test_ids]) for arm in run.arms}
        best = max(on_test.values())
        val = {arm: [run.score(arm, e) for e in val_ids] for arm in run.arms}
        shipped = {name: rule(val).arm for name, rule in rules.items()} | {ORACLE: oracle}
        for name, arm in shipped.items():
            tally = tallies[name]
            tally.splits += 1
            tally.hits += on_test[arm] >= best - 1e-9
            tally.lost += 100 * (best - on_test[arm])
            tally.shipped[arm] += 1
    return tallies


def pooled_splits(run: RunScores, count: int, rng: random.Random) -> Iterator[Split]:
    """Val and test pooled; a val of the run's val size without replacement, the rest as test."""
    pool = [*run.val[run.arms[0]], *run.test[run.arms[0]]]
    size = len(run.val[run.arms[0]])
    for _ in range(count):
        drawn = rng.sample(pool, len(pool))
        yield drawn[:size], drawn[size:]


def within_splits(run: RunScores, count: int, rng: random.Random) -> Iterator[Split]:
    """Val resampled with replacement from the run's val, test from its test."""
    val, test = list(run.val[run.arms[0]]), list(run.test[run.arms[0]])
    for _ in range(count):
        yield rng.choices(val, k=len(val)), rng.choices(test, k=len(test))


RESAMPLINGS: dict[str, Callable[[RunScores, int, random.Random], Iterator[Split]]] = {"pooled": pooled_splits, "within": within_splits}


def own_split(run: RunScores, rule: Rule) -> str:
    """What the rule ships on the run's own split, and its test score there."""
    ids = list(run.val[run.arms[0]])
    arm = rule({a: [run.val[a][e] for e in ids] for a in run.arms}).arm
    return f"{arm} {pct(_mean(list(run.test[arm].values())))}"


def bench(runs: Sequence[RunScores], splits: int, seed: int = 0, rules: dict[str, Rule] = RULES) -> list[list[str]]:
    """Table rows: per task and rule, hit rate and regret under each resampling, arms shipped (pooled), the runs' own splits."""
    rows = []
    for task in dict.fromkeys(run.task for run in runs):
        mine = [run for run in runs if run.task == task]
        totals = {how: {name: Tally() for name in [*rules, ORACLE]} for how in RESAMPLINGS}
        for how, resample in RESAMPLINGS.items():
            for index, run in enumerate(mine):
                for name, tally in measure(run, rules, resample(run, splits, random.Random(f"{seed}-{how}-{index}"))).items():
                    totals[how][name].add(tally)
        sizes = ", ".join(sorted({f"{len(r.val[r.arms[0]])} / {len(r.test[r.arms[0]])}" for r in mine}))
        for name in [*rules, ORACLE]:
            pooled, within = totals["pooled"][name], totals["within"][name]
            ships = " · ".join(f"{arm} {100 * pooled.shipped[arm] / pooled.splits:.0f}%" for arm in mine[0].arms)
            own = "; ".join(own_split(run, rules[name]) for run in mine) if name in rules else "-"
            rows.append([task, str(len(mine)), sizes, name, pct(pooled.hit_rate), f"{pooled.regret:.1f}", pct(within.hit_rate),
                         f"{within.regret:.1f}", ships, own])
    return rows


HEADERS = ["task", "runs", "val / test", "rule", "ships best on test (pooled)", "regret, points (pooled)", "ships best (within)",
           "regret (within)", "arms shipped (pooled)", "the runs' own splits: shipped, test"]


# --- synthetic score vectors (`--simulate`) -----------------------------------------------------

def synthetic_examples(accuracies: Sequence[float], n: int, rng: random.Random, shared: float = 0.7) -> list[tuple[float, ...]]:
    """n examples scored 0/1 by arms of the given true accuracies, correlated the way arms of one
    model are (an example hard for one is hard for the others: a shared latent with weight `shared`)."""
    normal = NormalDist()
    cuts = [normal.inv_cdf(a) for a in accuracies]
    own = math.sqrt(1 - shared ** 2)
    rows = []
    for _ in range(n):
        common = rng.gauss(0, 1)
        rows.append(tuple(float(shared * common + own * rng.gauss(0, 1) < cut) for cut in cuts))
    return rows


def synthetic_run(task: str, arms: Sequence[str], val: Sequence[tuple[float, ...]], test: Sequence[tuple[float, ...]]) -> RunScores:
    def by_arm(rows: Sequence[tuple[float, ...]], prefix: str) -> dict[str, dict[str, float]]:
        return {arm: {f"{prefix}{i}": row[k] for i, row in enumerate(rows)} for k, arm in enumerate(arms)}
    return RunScores(task, by_arm(val, "v"), by_arm(test, "t"))


# (name, true accuracy of prompt / weights / both, pool size, val size): shaped like the tasks' splits
POOLED_SCENARIOS = [
    ("sentiment-like", (0.70, 0.95, 0.95), 174, 78),
    ("agent-like", (0.25, 0.50, 0.70), 28, 12),
    ("new-task-like (60 rows)", (0.60, 0.85, 0.87), 36, 16),
    ("all equal", (0.80, 0.80, 0.80), 28, 12),
    ("complex worse", (0.80, 0.72, 0.76), 28, 12),
    ("small gains", (0.70, 0.75, 0.78), 60, 24),
]
# (name, seed accuracy, candidates' mean change, val size): GEPA keeps the best of 10 candidates on val
CURSE_SCENARIOS = [(f"best of 10 vs seed, candidates {change:+.0%} on average, val {n}", 0.5, change, n)
                   for change in (-0.05, 0.0, 0.05) for n in (12, 24, 78)]


def simulate(splits: int, seed: int = 0, rules: dict[str, Rule] = RULES) -> list[list[str]]:
    """Pooled scenarios (40 pools, splits/40 resamples each) and winner's-curse scenarios (`splits`
    searches, each one split with a 400-example test): a row per scenario, each rule's regret (hit rate)."""
    rng = random.Random(seed)
    rows = []

    def row(name: str, total: dict[str, Tally]) -> list[str]:
        return [name, *(f"{t.regret:.1f} ({pct(t.hit_rate)})" for t in total.values())]

    arms = ("prompt", "weights", "both")
    for name, accuracies, pool, size in POOLED_SCENARIOS:
        total = {rule: Tally() for rule in [*rules, ORACLE]}
        for _ in range(40):
            examples = synthetic_examples(accuracies, pool, rng)
            run = synthetic_run(name, arms, examples[:size], examples[size:])
            for rule, tally in measure(run, rules, pooled_splits(run, max(1, splits // 40), rng)).items():
                total[rule].add(tally)
        rows.append(row(name, total))
    for name, start, change, size in CURSE_SCENARIOS:
        total = {rule: Tally() for rule in [*rules, ORACLE]}
        for _ in range(splits):
            accuracies = [start, *(min(0.98, max(0.02, start + rng.gauss(change, 0.08))) for _ in range(10))]
            val, test = synthetic_examples(accuracies, size, rng), synthetic_examples(accuracies, 400, rng)
            best = max(range(len(accuracies)), key=lambda k: sum(row[k] for row in val))  # GEPA's best_idx: the first of ties
            run = synthetic_run(name, ("seed", "candidate"), [(row[0], row[best]) for row in val], [(row[0], row[best]) for row in test])
            for rule, tally in measure(run, rules, [(list(run.val["seed"]), list(run.test["seed"]))]).items():
                total[rule].add(tally)
        rows.append(row(name, total))
    return rows


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--run", action="append", type=Path, default=[], help="a run folder of `smolopt optimize TASK --weights lora` (repeatable)")
    parser.add_argument("--splits", type=int, default=2000, help="resampled splits per run and resampling (default 2000)")
    parser.add_argument("--seed", type=int, default=0)
    parser.add_argument("--simulate", action="store_true", help="print the rules on synthetic score vectors instead (not written to BENCHMARKS.md)")
    args = parser.parse_args()
    if args.simulate:
        print("Synthetic score vectors (not the benchmark): each rule's regret in points (how often it ships the arm best on test)")
        print(markdown_table(["scenario", *RULES, ORACLE], simulate(args.splits, args.seed)))
        return
    if not args.run:
        parser.error("name one or more run folders with --run (or --simulate)")
    try:
        runs = [read_run(folder) for folder in args.run]
    except SmoloptError as error:
        raise SystemExit(f"error: {error}") from None
    rows = bench(runs, args.splits, args.seed)
    table = markdown_table(HEADERS, rows)
    print(table)
    body = "\n".join([
        "## Ship decision on small data (bench_decision)", "", preamble(),
        "- runs: " + "; ".join(f"`{folder}` ({run.task})" for folder, run in zip(args.run, runs)),
        f"- {args.splits} resampled splits per run and resampling. pooled: val+test pooled, a val of the run's val size drawn, "
        "the rest as test. within: val resampled from the run's val, test from its test (keeps the flattery of val-picked arms)",
        "- a hit: the shipped arm scores best on that split's test (ties count); regret: the best arm's test score minus the "
        "shipped arm's, in points, averaged over splits; target (issue 29): the shipped rule's regret at most 5 points on every task",
        "- rules: `smolopt/optimize/decision.py`; 'val argmax (ships now)' decides `optimize` and `--weights lora` since issue 29, "
        "'paired interval (before)' decided them until then", "",
        table,
    ])
    write_section("bench_decision", body)


if __name__ == "__main__":
    main()
