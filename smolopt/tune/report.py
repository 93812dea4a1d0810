"""The tune report: epochs, the one val chose, and base vs tuned on test (laid out once, see smolopt.report)."""

from __future__ import annotations

from smolopt.baseline import baseline_section
from smolopt.report import Report, Section, notice_facts, pct, points
from smolopt.tune.arms import arm_rows
from smolopt.tune.result import Tuned
from smolopt.tune.serving import MODELFILE, SERVE_SCRIPT
from smolopt.tune.train import Epoch
from smolopt.usage import usage_section

SERVING_FILES = {SERVE_SCRIPT: "llama-server or vLLM", MODELFILE: "Ollama"}
ARM_HEADERS = ["arm", "prompt", "weights", "test [95% CI]", "change, points [paired 95% CI]", "tokens/call", "calls/example", "median s", "tuning s"]


def arms_section(rows: list[dict], title: str) -> Section:
    """The arms table (`smolopt tune`'s two rows, `optimize --weights lora`'s four)."""
    return Section(title, ARM_HEADERS, [
        [row["arm"], row["program"], "adapter" if row["adapter"] else "base",
         f"{pct(row['accuracy'])} [{pct(row['interval'][0])}, {pct(row['interval'][1])}]",
         f"{points(row['change'])} [{points(row['change_interval'][0])}, {points(row['change_interval'][1])}]",
         f"{row['prompt_tokens_per_call']:.0f}", f"{row['calls_per_example']:.2f}", f"{row['median_latency_s']:.3f}",
         f"{row['tune_seconds']:.0f}"]
        for row in rows
    ])


def epoch_status(epoch: Epoch) -> str:
    """One finished epoch for a progress bar: its loss and what val said."""
    val = f"val {pct(epoch.val_accuracy)}" if epoch.val_accuracy is not None else f"val loss {epoch.val_loss:.3f}"
    return f"epoch {epoch.epoch}: loss {epoch.loss:.3f}, {val}, {epoch.seconds:.0f} s"


def steps_section(steps: dict) -> Section:
    """What a multi-step program trained on: per split, the examples its metric scored right and the steps they gave."""
    predictors = list(dict.fromkeys(name for split in ("train", "val") for name in steps[split]["pairs"]))
    return Section("steps (a multi-step program trains on the steps its data gives, and on those of the examples it got right)",
                   ["split", "examples", f"with steps (data, or scored ≥ {steps['threshold']})", "steps from the data",
                    *(f"{name} steps" for name in predictors)],
                   [[split, steps[split]["tried"], steps[split]["kept"], steps[split].get("gold", 0),
                     *(steps[split]["pairs"].get(name, 0) for name in predictors)] for split in ("train", "val")])


def tune_report(tuned: Tuned) -> Report:
    best = tuned.trained.best
    epochs = Section("epochs (val picks the best)", ["epoch", "train loss", "val loss", "val accuracy", "seconds", ""], [
        [e.epoch, f"{e.loss:.4f}", f"{e.val_loss:.4f}", pct(e.val_accuracy) if e.val_accuracy is not None else "—", f"{e.seconds:.1f}",
         "chosen" if e.epoch == best.epoch else ""]
        for e in tuned.trained.history
    ])
    facts = [("trained for", tuned.arms[0].program if tuned.arms else "—"), ("adapter", str(tuned.adapter)), ("tuning", f"{tuned.tune_seconds:.0f} s, peak memory {tuned.peak_memory_mb:.0f} MB"),
             ("trained on", tuned.trained.settings["device"]),
             ("serve elsewhere", ", ".join(f"{tuned.run.path / name} ({server})" for name, server in SERVING_FILES.items() if (tuned.run.path / name).is_file()))]
    if tuned.trained.resumed_from:
        facts.append(("resumed", f"epochs 1–{tuned.trained.resumed_from} came from the checkpoint"))
    if tuned.trained.skipped:
        facts.append(("left out", f"{tuned.trained.skipped} training texts longer than the model's context"))
    sections = [epochs] + ([steps_section(tuned.steps)] if tuned.steps else [])
    sections += [arms_section(arm_rows(tuned.arms), "test split: base vs tuned weights")] if tuned.arms else []
    sections += [baseline_section(tuned.baseline)] if tuned.baseline else []
    sections += [usage_section(tuned.usage)] if tuned.usage else []
    return Report(f"tune: {tuned.run.path.name}", facts + notice_facts(tuned.notices), sections)
