"""What `smolopt new` tells its user: what it made, what it chose and why, and what to run next."""

from __future__ import annotations

import shlex

from smolopt.newtask.command import NewTask
from smolopt.newtask.split import SMALL, TEST_MAX, TEST_MIN, VAL_MAX
from smolopt.newtask.template import METRIC_WORDS, phrase
from smolopt.prompt_size import CHARS_PER_TOKEN
from smolopt.report import Report, Section
from smolopt.tasks import SPLITS


def new_report(made: NewTask) -> Report:
    task = made.task
    sizes = task.sizes()
    folder = task.path
    facts = [
        ("task", f"{folder}/ (task.py: the instruction and the metric, yours to edit; data.jsonl: the rows)"
                 + ("; the folder that was there is replaced" if made.replaced else "")),
        ("inputs", ", ".join(made.inputs) if made.inputs_chosen else f"{', '.join(made.inputs)} (every column but '{made.target}'; --input picks)"),
        ("label", f"{made.target}: {len(task.labels)} labels, scored by exact match") if task.labels
        else ("output", f"{made.target}, scored by {METRIC_WORDS[made.metric]}"),
    ]
    renamed = [f"'{column}' → {field}" for column, field in made.fields.items() if column != field]
    if renamed:
        facts.append(("fields", f"{', '.join(renamed)} (Python names, as task.py and data.jsonl use them)"))
    ids = [example.id for split in task.splits.values() for example in split]
    facts += [
        ("ids", f"{min(ids)} … {max(ids)} in the file's order; the same file and --seed give the same ids and splits"),
        ("split", _split_reason(made, sizes)),
        ("prompts", f"the longest is about {made.longest_prompt} tokens; {made.student} takes {made.prompt_room} beside its answer "
                    f"(context {made.context_length}; estimated at {CHARS_PER_TOKEN} characters a token)"),
    ]
    return Report(title=f"smolopt new: {task.name} from {made.source}", facts=facts, sections=[_counts(made, sizes)])


def _split_reason(made: NewTask, sizes: dict[str, int]) -> str:
    total = sum(sizes.values())
    if total <= SMALL:
        test = f"a third ({sizes['test']}) held back as test"
    else:
        test = f"{sizes['test']} held back as test (a fifth of the rows, at least {TEST_MIN} and at most {TEST_MAX})"
    val = f"{sizes['val']} val" + (f" (at most {VAL_MAX})" if sizes["val"] >= VAL_MAX else "")
    strata = "stratified by label, so every label is in each split" if made.task.labels else "shuffled"
    return (f"{total} rows: {test}, scored at the end and never tuned on (one row is {100 / sizes['test']:.1f} points); "
            f"of the rest, {val} picks prompts and the tune's epoch, {sizes['train']} train give demos and tune the weights; "
            f"{strata} (seed {made.seed})")


def _counts(made: NewTask, sizes: dict[str, int]) -> Section:
    task = made.task
    headers = [phrase([task.output]) if task.labels else "rows", *SPLITS, "all"]
    rows = []
    for label in task.labels or ():
        counts = [task.label_counts(split)[label] for split in SPLITS]
        rows.append((label, *counts, sum(counts)))
    rows.append(("all", *(sizes[split] for split in SPLITS), sum(sizes.values())))
    return Section("rows per split" + (" and label" if task.labels else ""), headers, rows)


def next_commands(made: NewTask) -> list[tuple[str, str]]:
    """(command, what it does) for the user's next steps, naming the task the way the loader finds it."""
    ref = shlex.quote(made.ref)
    return [
        (f"smolopt eval {ref}", "the program as written, on test"),
        (f"smolopt optimize {ref} --weights lora", "a prompt search and a LoRA tune; seed / prompt / weights / both on test"),
    ]
