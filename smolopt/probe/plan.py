"""Planning a probe: every variant (a candidate under an adapter) decided before the first call.

The number of evaluations is then known up front for a progress bar, and variants whose prompt
would clearly not fit the model's context are skipped in the plan, not discovered by an HTTP error.
"""

from __future__ import annotations

import math
import random
from collections.abc import Callable, Sequence
from dataclasses import dataclass, field

import dspy

from smolopt.adapters import usable_formats
from smolopt.adapters.formats import ALL, Format, seed_format
from smolopt.candidate import apply_candidate, demos_key, encode_demos, format_key, is_instruction_key, seed_candidate, set_formats
from smolopt.errors import SmoloptError
from smolopt.evaluation import task_adapter
from smolopt.prompt_size import answer_tokens, estimate_prompt_tokens, prompt_room
from smolopt.registry import ModelSpec
from smolopt.tasks import Task

DEFAULT_EXAMPLES = 12
RULE_COUNTS = (0, 1, 2, 4, 8, 16)
DEMO_COUNTS = (0, 1, 2, 4, 8)
ORDERINGS = 3
PROHIBITION = "DO NOT repeat the input."

ADAPTERS: dict[str, Callable[[Task], dspy.Adapter]] = {
    "raw": task_adapter,
    "chat": lambda task: dspy.ChatAdapter(use_json_adapter_fallback=False),  # a JSON retry would hide chat-format failures
    "json": lambda task: dspy.JSONAdapter(),
}


@dataclass
class Variant:
    """One planned evaluation: a candidate (instructions + demos) under one adapter."""

    name: str
    group: str  # "seed" | "format" | "ask" | "rules" | "demos" | "prohibition"
    candidate: dict[str, str]
    k: int = 0  # rules or demos added
    ordering: int = 0
    adapter: str = "raw"
    demo_ids: list[str] = field(default_factory=list)
    estimated_prompt_tokens: int = 0
    skipped: str = ""  # why it is not evaluated; empty when it is



@dataclass
class ProbePlan:
    """What `run_probe` will evaluate for one (model, task), with the progress total known up front."""

    task: Task
    model: str
    context_length: int
    program: dspy.Module
    examples: list[dspy.Example]
    variants: list[Variant]

    @property
    def evaluations(self) -> int:
        return sum(not v.skipped for v in self.variants)

    @property
    def total_steps(self) -> int:
        """Examples to run (what the progress callback counts), over all evaluated variants."""
        return self.evaluations * len(self.examples)


def rule_counts(pool: int) -> list[int]:
    """RULE_COUNTS that the pool can fill, plus the whole pool when it falls between two of them."""
    counts = [k for k in RULE_COUNTS if k <= pool]
    return counts if pool in counts or pool > RULE_COUNTS[-1] else counts + [pool]


def with_lines(candidate: dict[str, str], lines: Sequence[str]) -> dict[str, str]:
    """The candidate with `lines` appended, one per line, to every predictor's instruction."""
    return {key: "\n".join([text.rstrip(), *lines]).strip() if is_instruction_key(key) else text for key, text in candidate.items()}


def balanced_demos(task: Task, k: int) -> list[dspy.Example]:
    """k training examples, round-robin over the labels in the task's label order (file order within a label).

    Balance keeps the demos themselves from teaching a label bias. Free-text tasks take the first
    k training examples. Fewer than k come back when the training split runs out.
    """
    train = task.split("train")
    if not task.labels:
        return train[:k]
    queues = [[e for e in train if task.gold_label(e) == label] for label in task.labels]
    picked: list[dspy.Example] = []
    while len(picked) < k and any(queues):
        for queue in queues:
            if queue and len(picked) < k:
                picked.append(queue.pop(0))
    return picked


def orderings(count: int, wanted: int = ORDERINGS) -> list[tuple[int, ...]]:
    """Up to `wanted` distinct permutations of range(count): the selection order, then seeded shuffles.

    Distinct, because k=1 has one ordering and k=2 two; repeating one would only re-measure it.
    """
    found = [tuple(range(count))]
    seed = 1
    while len(found) < min(wanted, math.factorial(count)):
        order = list(range(count))
        random.Random(seed).shuffle(order)
        if tuple(order) not in found:
            found.append(tuple(order))
        seed += 1
    return found


def usable_formats_of(program: dspy.Module) -> list[Format]:
    """Formats every predictor of the program can use (scored ones only when all answer with labels)."""
    usable = [set(usable_formats(predictor.signature)) for _, predictor in program.named_predictors()]
    return [fmt for fmt in ALL if all(fmt in each for each in usable)]


NO_CHAT_TEMPLATE = "the model has no chat template (a base model)"


def with_format(candidate: dict[str, str], program: dspy.Module, fmt: Format) -> dict[str, str]:
    """The candidate with every predictor asked in `fmt`."""
    return {**candidate, **{format_key(name): str(fmt) for name, _ in program.named_predictors()}}


def with_demos(candidate: dict[str, str], program: dspy.Module, task: Task, examples: Sequence[dspy.Example]) -> dict[str, str]:
    """The candidate with each predictor's demos replaced by what `examples` give it (task.demo_for)."""
    built = dict(candidate)
    for name, _ in program.named_predictors():
        demos = [demo for example in examples if (demo := task.demo_for(example, name)) is not None]
        built[demos_key(name)] = encode_demos(demos)
    return built


def _variants(task: Task, program: dspy.Module, chats: bool) -> list[Variant]:
    """Every variant of the probe, in the order they run (the seed first: it anchors every curve).

    Without a chat template (`chats` False) the seed is asked as plain text, and what needs chat
    turns (DSPy's adapters, chat formats) is listed as skipped, so the card says why it is missing.
    """
    seed = seed_candidate(program)
    no_chat = "" if chats else NO_CHAT_TEMPLATE
    variants = [Variant("seed", "seed", seed)]
    variants += [Variant(f"format {name}", "format", seed, adapter=name, skipped=no_chat) for name in ADAPTERS if name != "raw"]
    variants += [Variant(f"ask {fmt}", "ask", with_format(seed, program, fmt), skipped=no_chat if fmt.mode == "chat" else "")
                 for fmt in usable_formats_of(program) if fmt != seed_format(chats)]
    variants += [Variant(f"rules {k}", "rules", with_lines(seed, task.rules[:k]), k=k) for k in rule_counts(len(task.rules)) if k]
    for k in DEMO_COUNTS[1:]:
        picked = balanced_demos(task, k)
        if len(picked) < k:
            variants.append(Variant(f"demos {k}", "demos", seed, k=k, skipped=f"only {len(picked)} training examples"))
            continue
        for index, order in enumerate(orderings(k)):
            ordered = [picked[i] for i in order]
            variants.append(Variant(
                f"demos {k} order {index + 1}", "demos", with_demos(seed, program, task, ordered),
                k=k, ordering=index + 1, demo_ids=[str(e.get("id")) for e in ordered],
            ))
    variants.append(Variant("prohibition line", "prohibition", with_lines(seed, [PROHIBITION])))
    return variants


def plan_probe(task: Task, spec: ModelSpec, n: int = DEFAULT_EXAMPLES) -> ProbePlan:
    """All variants for `spec` on `task`, each sized against the model's context. Whether the
    model has a chat template is the spec's (`smolopt.backends.weights.with_gguf_facts` fills it in).

    A variant is skipped when its estimated prompt plus the program's answer budget (`answer_tokens`)
    exceeds `context_length`: a server asked for more than its context answers with an error,
    and the few-shot curve is still readable without its longest point.
    """
    if n < 1:
        raise SmoloptError(f"--examples must be at least 1 (got {n})")
    program = task.program()
    set_formats(program, seed_format(spec.can("chat")))
    examples = task.split("val")[:n]
    variants = _variants(task, program, spec.can("chat"))
    for variant in variants:
        if variant.skipped:
            continue
        built = apply_candidate(program, variant.candidate)
        variant.estimated_prompt_tokens = estimate_prompt_tokens(built, ADAPTERS[variant.adapter](task), examples)
        if variant.estimated_prompt_tokens > prompt_room(spec, program):
            variant.skipped = (
                f"about {variant.estimated_prompt_tokens} prompt tokens + {answer_tokens(spec, program)} to answer "
                f"exceed the {spec.context_length}-token context"
            )
    return ProbePlan(task, spec.name, spec.context_length, program, examples, variants)
