"""`smolopt tune`: a LoRA on the task's train split, in the program's own format, then base vs tuned on test.

    runs/<id>/tune/last.pt, best.pt   per-epoch checkpoints (a killed tune resumes at its last epoch)
    runs/<id>/adapter.gguf            the llama.cpp adapter, naming its base file and prompt format
                                      (an `hf` entry: runs/<id>/adapter/, the peft folder vLLM loads)
    runs/<id>/program.json            the program it was trained for, recording the adapter
    runs/<id>/steps.json              a multi-step program's traced steps: examples right, steps per predictor
    runs/<id>/serve.sh, Modelfile     llama-server and Ollama on the same base file (hf: the vLLM line)
    runs/<id>/results.json, report.md epochs, the chosen one, and both arms on test

Training and serving never overlap: the transformers copy of the model is dropped before the
llama.cpp server starts (two heavy processes on two cores slow each other down by 2x or more).
"""

from __future__ import annotations

import gc
import resource
import time
from collections.abc import Callable
from pathlib import Path

import dspy

from smolopt.adapters.formats import CONFIG_KEY, Format, parse_format
from smolopt.adapters.raw_text import usable_formats
from smolopt.backends.weights import resolve_gguf
from smolopt.baseline import embedding_baseline
from smolopt.candidate import formats_of, seed_candidate, set_format
from smolopt.errors import SmoloptError
from smolopt.evaluation import Progress
from smolopt.evaluation import evaluate as evaluate_task
from smolopt.program_io import load_program, save_program
from smolopt.references import read_references
from smolopt.registry import ModelSpec, Registry, embedded_twin, with_adapter
from smolopt.report import markdown
from smolopt.runs import Run
from smolopt.scaffold import run_scaffold
from smolopt.serving.program import PROGRAM_FILE, program_usage
from smolopt.tasks import Task
from smolopt.tune.arms import Arm, described
from smolopt.tune.base import weights_of
from smolopt.tune.examples import Pair, pairs, step_pairs
from smolopt.tune.hf import hf_folder
from smolopt.tune.merge import merge as merge_adapter
from smolopt.tune.traces import recorded_steps, trace_steps
from smolopt.tune.report import tune_report
from smolopt.tune.result import Tuned
from smolopt.tune.train import EpochProgress, Settings, Trained, train

MERGED = "merged.gguf"
CHECKPOINTS = "tune"


def in_best_format(program: dspy.Module, serves: Callable[[Format], bool] = lambda fmt: True) -> dspy.Module:
    """The program with each predictor in the first format its signature can use and `serves` allows
    (the deployment's server: LM Studio gives no logprobs, so completion generate there), in the
    order measured best for tiny models (completion, scored, calibrated first; see formats.ALL),
    unless it already has a format of its own that `serves` allows."""
    built = program.deepcopy()
    for name, predictor in built.named_predictors():
        own = predictor.config.get(CONFIG_KEY)
        if own is None or not serves(parse_format(str(own))):
            set_format(predictor, str(next(fmt for fmt in usable_formats(predictor.signature) if serves(fmt))), name)
    return built


def peak_memory_mb() -> float:
    """This process's peak resident memory so far (Linux reports KiB)."""
    return resource.getrusage(resource.RUSAGE_SELF).ru_maxrss / 1024


def tunable(spec: ModelSpec) -> None:
    """Refuse, in one line and before anything loads, what cannot be tuned: no weights, an hf folder that is not one.
    Every program can be (one predictor on gold targets, several on their traced steps)."""
    if spec.gguf is None and spec.hf is None:
        raise SmoloptError(f"model '{spec.name}' names no weights to tune: add gguf = \"PATH\" (the GGUF file your server loads) "
                           "or hf = \"PATH\" (the Hugging Face folder it loads) to its entry")
    if spec.hf:
        hf_folder(spec)  # a folder that is not one is refused before the run folder exists


def tune_weights(task: Task, programs: list[dspy.Module], spec: ModelSpec, run: Run, settings: Settings,
                 progress: EpochProgress | None = None) -> tuple[Trained, Path, float]:
    """Train on the train split rendered by each of `programs` (the weights serve every one of
    them), export the adapter and its serving files; returns (trained, adapter path, seconds).
    A one-predictor program learns gold targets; a multi-step one, the steps of the examples the
    model got right (smolopt.tune.traces, recorded in the run).

    Several programs: an adapter trained on zero-shot prompts only lost about 20 points on
    sentiment when demos were put in front; one trained with half its texts behind demos kept
    90.6% zero-shot and 89.6% with demos (the spike behind issue 18).
    """
    tunable(spec)
    started = time.perf_counter()
    weights = weights_of(spec)
    traced = trace_steps(task, programs, spec, run)  # multi-step programs: the model's right steps, before transformers loads
    base = weights.load(settings.threads)
    references = None
    if not task.labels:
        references = {key: row[task.output] for key, row in read_references(task.path, task.output).items()}

    chat = base.chat

    def split_pairs(split: str) -> list[Pair]:
        made = []
        for program, steps in zip(programs, traced):
            made += step_pairs(program, steps[split].steps, chat) if steps else pairs(task, program, task.split(split), chat, references)
        return made

    train_pairs, val_pairs = split_pairs("train"), split_pairs("val")
    trained = train(base, train_pairs, val_pairs, settings, run.path / CHECKPOINTS, progress)
    adapter = weights.save(run.path, trained.lora, base, alpha=settings.alpha, spec=spec, task=task.name,
                           formats=formats_of(seed_candidate(programs[-1])))
    del base
    gc.collect()
    return trained, adapter, time.perf_counter() - started


def run_tune(task: Task, program: dspy.Module, registry: Registry, model: str | None, settings: Settings, run: Run,
             *, program_path: str | None = None, merge: bool = False, epochs: EpochProgress | None = None,
             progress: Progress | None = None) -> Tuned:
    """Tune in `run` (new, or one to resume), then evaluate base and tuned on test with the real server.
    `merge` also writes merged.gguf, base and adapter in one file."""
    spec = registry.get(model)
    with run.continuable("tune", lambda: f"finished epochs are kept in {run.path / CHECKPOINTS}"):
        trained, adapter, seconds = tune_weights(task, [program], spec, run, settings, epochs)
        if merge:
            merge_adapter(resolve_gguf(spec), adapter, run.path / MERGED, spec.name)
    memory = peak_memory_mb()
    saved = save_program(program, run.path / PROGRAM_FILE, task.name, adapter=adapter)
    tuned = Tuned(run, trained, adapter, seconds, memory, steps=recorded_steps(run), usage=program_usage(saved, task, program, spec.name, adapter))
    # Before the arms' server starts: embedding takes the cores llama.cpp would generate on.
    tuned.baseline = embedding_baseline(task, tuned.notices)
    shown = f"{program_path or 'seed program'}: {described(program)}"
    if spec.hf:  # vLLM serves the adapter folder; smolopt starts no vLLM
        arms_registry, entries = registry, []
        tuned.notices.append(f"base and tuned weights were not measured on test: serve them with {run.path / 'serve.sh'} (vLLM), then "
                             f"`smolopt eval {task.name}` on an entry whose model is '{run.path.name}'")
    else:
        arms_registry, base_name = embedded_twin(registry, spec.name)
        arms_registry, tuned_name = with_adapter(arms_registry, base_name, adapter)
        entries = [("base", base_name, None), ("tuned", tuned_name, adapter)]
        if base_name != spec.name:
            tuned.notices.append(f"base and tuned weights measured on llama.cpp serving {spec.gguf}, the file '{spec.name}' names "
                                 f"({spec.provider} takes the adapter through {run.path / 'serve.sh'} or the Modelfile)")
    with run_scaffold("tune", {}, arms_registry, label=task.name, resume=run) as scaffold:
        test = task.split("test")
        for name, entry, path in entries:
            result = evaluate_task(task, program, test, scaffold.models.lm(entry), split="test", progress=progress)
            tuned.arms.append(Arm(name, shown, str(path) if path else None, result, seconds if path else 0.0))
        tuned.notices = scaffold.notices + tuned.notices
        scaffold.write_results(tuned.to_json(), markdown(tune_report(tuned)))
    return tuned


def prepared_program(task: Task, program_path: str | None, fmt: str | None) -> dspy.Module:
    """The program a tune trains for: a saved one, or the task's seed program in its best format."""
    from smolopt.adapters.formats import parse_format

    program = load_program(task, program_path) if program_path else in_best_format(task.program())
    if fmt:
        chosen = parse_format(fmt, "--format")
        for name, predictor in program.named_predictors():
            set_format(predictor, str(chosen), name)
    return program

