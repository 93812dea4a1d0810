"""A user with a labeled CSV gets a task without writing Python: `smolopt new NAME --from FILE`.

Good files (CSV, TSV, JSONL; labels and free text) become a task folder that `smolopt eval` finds the
way the printout says; bad files get one line, a non-zero exit, and no folder. The last story runs
the made task through eval and optimize on the real model.
"""

import csv
import json
import shlex
from pathlib import Path

import dspy
import pytest

from cli_runner import run_smolopt

import smolopt
from smolopt.errors import SmoloptError
from smolopt.tasks import SPLITS, load_task

ROOT = Path(__file__).resolve().parent.parent
HELPDESK = ROOT / "scripts" / "data" / "helpdesk.csv"
REVIEWS = ROOT / "scripts" / "data" / "reviews_intent.csv"
SHIPPED_REGISTRY = ROOT / "models.toml"  # its default student's context is what inputs are measured against; no model starts


def new(tmp_path: Path, *args: str):
    """`smolopt new ...` run from tmp_path, with ./tasks there as the task loader's default place."""
    return run_smolopt(tmp_path, "--registry", str(SHIPPED_REGISTRY), "new", *args, env_extra={"SMOLOPT_TASKS": str(tmp_path / "tasks")})


def next_commands(stdout: str) -> list[list[str]]:
    """The commands the printout tells the user to run next, as argument lists without `smolopt`."""
    return [shlex.split(line.removeprefix("next: smolopt ")) for line in stdout.splitlines() if line.startswith("next: smolopt ")]


def write_csv(path: Path, header: list[str], rows: list[list[str]], delimiter: str = ",") -> Path:
    with path.open("w", newline="", encoding="utf-8") as fh:
        writer = csv.writer(fh, delimiter=delimiter)
        writer.writerow(header)
        writer.writerows(rows)
    return path


def test_a_labeled_csv_becomes_a_stratified_task_found_by_its_name(tmp_path):
    done = new(tmp_path, "helpdesk", "--from", str(HELPDESK), "--input", "Customer message", "--label", "category")
    assert done.returncode == 0, done.stderr
    assert "'Customer message' → customer_message" in done.stdout  # the column's Python name is said
    assert "a third (25) held back as test" in done.stdout
    assert next_commands(done.stdout) == [["eval", "helpdesk"], ["optimize", "helpdesk", "--weights", "lora"]]

    task = load_task("helpdesk", tmp_path / "tasks")  # found by name, where `smolopt eval helpdesk` looks
    assert task.inputs == ("customer_message",) and task.output == "category"
    assert task.labels == ("account_access", "billing", "bug", "feature_request")
    assert sum(task.sizes().values()) == 75 and task.sizes()["test"] == 25
    for label in task.labels:  # every label in every split, in about the file's proportions
        counts = [task.label_counts(split)[label] for split in SPLITS]
        assert min(counts) >= 1 and abs(counts[2] - sum(counts) / 3) <= 1, (label, counts)
    table = done.stdout[done.stdout.index("rows per split"):]
    billing = next(line for line in table.splitlines() if "billing" in line)
    assert [int(cell) for cell in billing.replace("│", " ").split()[1:]] == [*(task.label_counts(s)["billing"] for s in SPLITS), 21]

    example = task.split("test")[0]
    assert task.metric(example, dspy.Prediction(category=example.category)).score == 1.0
    wrong = next(label for label in task.labels if label != example.category)
    missed = task.metric(example, dspy.Prediction(category=wrong))
    assert missed.score == 0.0 and wrong in missed.feedback and example.category in missed.feedback  # names both


def test_the_same_file_and_seed_give_the_same_ids_and_splits(tmp_path):
    args = ("--from", str(HELPDESK), "--input", "Customer message", "--label", "category")
    first = new(tmp_path, "helpdesk", *args)
    again = new(tmp_path, "helpdesk", *args, "--force", "--tasks-dir", "again")
    other = new(tmp_path, "helpdesk", *args, "--seed", "1", "--tasks-dir", "other")
    assert first.returncode == again.returncode == other.returncode == 0, first.stderr + again.stderr + other.stderr
    assert (tmp_path / "tasks/helpdesk/data.jsonl").read_bytes() == (tmp_path / "again/helpdesk/data.jsonl").read_bytes()
    rows, reseeded = ([json.loads(line) for line in (tmp_path / folder / "helpdesk/data.jsonl").read_text().splitlines()] for folder in ("tasks", "other"))
    assert [row["id"] for row in rows] == [row["id"] for row in reseeded] == [f"helpdesk-{n:04d}" for n in range(1, 76)]
    assert [row["split"] for row in rows] != [row["split"] for row in reseeded]  # the seed chooses the split
    assert next_commands(again.stdout)[0] == ["eval", "again/helpdesk"]  # not where `eval NAME` looks: its path


def test_a_tsv_with_two_input_columns(tmp_path):
    with REVIEWS.open(encoding="utf-8") as fh:
        rows = list(csv.reader(fh))
    tsv = write_csv(tmp_path / "reviews.tsv", rows[0], rows[1:], delimiter="\t")
    done = new(tmp_path, "reviews", "--from", str(tsv), "--input", "product", "--input", "review", "--label", "intent")
    assert done.returncode == 0, done.stderr
    task = load_task("reviews", tmp_path / "tasks")
    assert task.inputs == ("product", "review") and task.labels == ("complaint", "praise", "question", "suggestion")
    assert sum(task.sizes().values()) == 66
    assert all(example.product and example.review for example in task.split("train"))


@pytest.mark.parametrize("metric, partly", [("exact", 0.0), ("f1", 2 / 3)])
def test_jsonl_free_text_with_the_metric_asked_for(tmp_path, metric, partly):
    rows = [{"Question": q, "Answer": a} for q, a in [
        ("Who wrote Hamlet?", "William Shakespeare"), ("What do bees make?", "honey"), ("Capital of Japan?", "Tokyo"),
        ("What is frozen water called?", "ice"), ("How many legs does a spider have?", "eight"), ("Largest planet?", "Jupiter")]]
    source = tmp_path / "qa.jsonl"
    source.write_text("\n".join(json.dumps(row) for row in rows) + "\n")
    done = new(tmp_path, "qa", "--from", str(source), "--output", "Answer", "--metric", metric)
    assert done.returncode == 0, done.stderr
    assert "inputs: Question (every column but 'Answer'" in done.stdout
    task = load_task("qa", tmp_path / "tasks")
    assert task.labels is None and task.inputs == ("question",) and task.output == "answer"
    example = dspy.Example(question="Who wrote Hamlet?", answer="William Shakespeare").with_inputs("question")
    assert task.metric(example, dspy.Prediction(answer="william shakespeare.")).score == 1.0  # case and punctuation aside
    assert task.metric(example, dspy.Prediction(answer="Shakespeare")).score == pytest.approx(partly)  # F1: all of it right, half of the reference


def test_the_same_from_python_returns_a_task_for_the_optimizer(tmp_path):
    task = smolopt.new_task("helpdesk", HELPDESK, inputs=["Customer message"], label="category", tasks_dir=tmp_path / "tasks",
                            registry=SHIPPED_REGISTRY)
    assert task.name == "helpdesk" and task.path == tmp_path / "tasks" / "helpdesk"
    program = task.program()
    assert list(program.signature.input_fields) == ["customer_message"]
    assert program.signature.instructions == "Classify the customer message by category."
    with pytest.raises(SmoloptError, match="already exists"):
        smolopt.new_task("helpdesk", HELPDESK, label="category", tasks_dir=tmp_path / "tasks", registry=SHIPPED_REGISTRY)


LONG = "word " * 3000  # about 4,400 tokens at 3.4 characters a token: over the 2,048 of the default student


@pytest.mark.parametrize("case, rows, flags, says", [
    ("missing column", [["hi", "a"]] * 1, ["--label", "category"], ["no column 'category'", "its columns: text, label"]),
    ("one label", [[f"text {n}", "a"] for n in range(6)], [], ["one label only ('a', 6 rows)"]),
    ("rare label", [[f"text {n}", "ab"[n % 2]] for n in range(8)] + [["odd one", "c"], ["odd two", "c"]], [],
     ["label 'c' has 2 rows (lines 10 and 11)", "3 or more"]),
    ("empty rows", [[f"text {n}", "ab"[n % 2]] for n in range(8)] + [["", "a"], ["", ""]], [],
     ["2 rows lack 'text' or 'label' (lines 10 and 11; 1 of them empty altogether)"]),
    ("duplicate rows", [[f"text {n}", "ab"[n % 2]] for n in range(8)] + [["text 1", "b"], ["text 2", "b"]], [],
     ["2 rows repeat an earlier row's inputs (lines 10 and 11; line 10 repeats line 3), 1 of them with another answer", "refused, not dropped"]),
    ("too long", [[f"text {n}", "ab"[n % 2]] for n in range(8)] + [[LONG, "a"], [LONG + "more", "b"]], [],
     ["2 rows are too long for smollm2-135m's context (lines 10 and 11)", "characters a token"]),
])
def test_a_bad_file_gets_one_line_and_no_folder(tmp_path, case, rows, flags, says):
    source = write_csv(tmp_path / "data.csv", ["text", "label"], rows)
    done = new(tmp_path, "mine", "--from", str(source), *(flags or ["--label", "label"]))
    assert done.returncode != 0, case
    assert done.stdout == "" and len(done.stderr.strip().splitlines()) == 1, done.stderr
    for words in says:
        assert words in done.stderr, done.stderr
    assert not (tmp_path / "tasks").exists()  # nothing written, not even the tasks folder


def test_a_file_that_is_not_utf8_names_its_line(tmp_path):
    source = tmp_path / "latin1.csv"
    source.write_bytes("text,label\nhello,a\nbonjour,a\nhola,a\nciao,b\nservus,b\nol\u00e1,b\n".encode("latin-1"))
    done = new(tmp_path, "mine", "--from", str(source), "--label", "label")
    assert done.returncode != 0 and len(done.stderr.strip().splitlines()) == 1
    assert f"{source.name}:7: not UTF-8" in done.stderr
    assert not (tmp_path / "tasks").exists()


def test_an_existing_task_folder_is_kept_unless_forced(tmp_path):
    args = ("helpdesk", "--from", str(HELPDESK), "--input", "Customer message", "--label", "category")
    assert new(tmp_path, *args).returncode == 0
    (tmp_path / "tasks/helpdesk/task.py").write_text("# the user's edits\n")
    refused = new(tmp_path, *args)
    assert refused.returncode != 0 and "tasks/helpdesk already exists; --force replaces it" in refused.stderr
    assert (tmp_path / "tasks/helpdesk/task.py").read_text() == "# the user's edits\n"
    forced = new(tmp_path, *args, "--force")
    assert forced.returncode == 0 and "replaced" in forced.stdout
    assert load_task("helpdesk", tmp_path / "tasks").labels is not None


def test_new_then_eval_then_optimize_on_the_real_model(smolopt_cli, tmp_path):
    """A made-up 12-row task, into a folder of the user's choosing: the printout names it by path, and
    eval and optimize, run as printed, find it."""
    animals = [("dog", "mammal"), ("salmon", "fish"), ("whale", "mammal"), ("trout", "fish"), ("horse", "mammal"), ("shark", "fish"),
               ("cat", "mammal"), ("tuna", "fish"), ("bat", "mammal"), ("cod", "fish"), ("cow", "mammal"), ("eel", "fish")]
    source = write_csv(tmp_path / "animals.csv", ["Animal name", "class"], [list(row) for row in animals])
    made = smolopt_cli("new", "animals", "--from", str(source), "--label", "class", "--tasks-dir", "mine")
    assert made.returncode == 0, made.stderr
    evaluate, optimize = next_commands(made.stdout)
    assert evaluate == ["eval", "mine/animals"] and optimize[:2] == ["optimize", "mine/animals"]

    done = smolopt_cli(*evaluate)
    assert done.returncode == 0, done.stderr
    run_dir = next((tmp_path / "runs").glob("*-eval-animals"))
    summary = json.loads((run_dir / "results.json").read_text())["summary"]
    assert summary["n"] == 4 and sum(summary["predicted_distribution"].values()) == 4

    done = smolopt_cli(*optimize[:2], "--budget", "12", "--reflection", "none", "--quiet")
    assert done.returncode == 0, done.stderr
    run_dir = next((tmp_path / "runs").glob("*-optimize-animals"))
    assert (run_dir / "program.json").exists() and (run_dir / "report.md").exists()


def test_a_task_made_from_python_runs_through_the_optimizer(registry_path, proxy, tmp_path, monkeypatch):
    monkeypatch.setenv("SMOLOPT_RUNS", str(tmp_path / "runs"))
    rows = [["Ate an apple", "fruit"], ["Roasted carrots", "vegetable"], ["A ripe banana", "fruit"], ["Steamed broccoli", "vegetable"],
            ["Fresh cherries", "fruit"], ["Spinach salad", "vegetable"], ["Sliced mango", "fruit"], ["Baked potato", "vegetable"],
            ["Two plums", "fruit"], ["Grilled leeks", "vegetable"]]
    task = smolopt.new_task("food", write_csv(tmp_path / "food.csv", ["dish", "kind"], rows), label="kind", tasks_dir=tmp_path / "tasks",
                            registry=registry_path)
    optimizer = smolopt.Optimizer(student="smollm2-135m", budget=8, registry=registry_path)
    _, result = optimizer.run(task)
    assert result.baseline_test.n == task.sizes()["test"] == 4
    assert (optimizer.run_dir / "program.json").exists()
