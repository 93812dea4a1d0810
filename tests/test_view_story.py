"""`smolopt view`: a person looks at real runs in a real browser (Debian's Chromium, driven by Playwright).

The runs are made by the real embedded model through the real `smolopt` command: an eval and an
optimize on a small sentiment copy, and an eval of a small story copy. The cases no model run
produces on demand are copies of those folders, altered: a story whose text holds a <script>, a
run whose results.json is corrupt, a symlink pointing out of the runs folder.
"""

from __future__ import annotations

import json
import re
import shutil
import subprocess
from pathlib import Path

import pytest
from cli_runner import cli_command, cli_env, run_smolopt, small_task

CHROMIUM = Path("/usr/bin/chromium")
CHROMIUM_ARGS = ["--headless", "--no-sandbox", "--disable-gpu", "--disable-background-networking", "--disable-component-update",
                 "--disable-sync", "--no-first-run"]
SCRIPT = "<script>document.title = 'pwned'; window.pwned = true;</script>"


def only_run(runs: Path, pattern: str) -> Path:
    found = list(runs.glob(pattern))
    assert len(found) == 1, (pattern, [p.name for p in runs.iterdir()])
    return found[0]


@pytest.fixture(scope="module")
def runs(registry_path, tmp_path_factory) -> Path:
    """A runs folder of real runs, plus the altered copies."""
    work = tmp_path_factory.mktemp("view")
    sentiment = small_task("sentiment", work / "sentiment_small", 8)
    story = small_task("story", work / "story_small", 2)
    for args in (("eval", str(sentiment)), ("optimize", str(sentiment), "--budget", "24", "--reflection", "none"),
                 ("eval", str(story), "--judge", "none")):
        done = run_smolopt(work, "--registry", str(registry_path), *args, "--quiet")
        assert done.returncode == 0, done.stderr
    folder = work / "runs"
    story_run = only_run(folder, "*-eval-story_small")
    scripted = shutil.copytree(story_run, folder / f"{story_run.name}-scripted")
    results = json.loads((scripted / "results.json").read_text())
    for example in results["examples"]:
        example["predicted"] = f"{SCRIPT}{example['predicted']}"
    (scripted / "results.json").write_text(json.dumps(results))
    # A run this small rarely passes the noise check, so its seed ships; this copy ships the
    # candidate the run's own proposals made (the shape of a run that found a real gain).
    optimized = only_run(folder, "*-optimize-sentiment_small")
    shipped = shutil.copytree(optimized, folder / f"{optimized.name}-shipped")
    results = json.loads((shipped / "results.json").read_text())
    proposals = [json.loads(line) for line in (shipped / "proposals.jsonl").read_text().splitlines()]
    results["best_candidate"] = {**results["seed_candidate"], **{p["component"]: p["text"] for p in proposals if p["accepted_by_guard"]}}
    results["choice"]["shipped"] = len(results["iterations"]) - 1
    (shipped / "results.json").write_text(json.dumps(results))
    corrupt = shutil.copytree(only_run(folder, "*-eval-sentiment_small"), folder / "20000101-000000-eval-corrupt")
    (corrupt / "results.json").write_text('{"summary": {"accuracy": 0.5}, "examples": [')
    secret = work / "secret.json"
    secret.write_text('{"secret": "outside the runs folder"}')
    (only_run(folder, "*-eval-sentiment_small") / "leak.json").symlink_to(secret)
    return folder


@pytest.fixture(scope="module")
def view(runs):
    """`smolopt view RUNS --port 0` as a user starts it: the address is the line it prints."""
    process = subprocess.Popen([*cli_command("view", str(runs), "--port", "0")], env=cli_env(runs.parent), cwd=runs.parent,
                               stdout=subprocess.PIPE, stderr=subprocess.PIPE, text=True)
    line = process.stdout.readline()
    found = re.search(r"http://127\.0\.0\.1:\d+/", line)
    assert found, (line, process.poll() is not None and process.stderr.read())
    yield found.group(0).rstrip("/")
    process.terminate()
    process.wait(timeout=10)


@pytest.fixture(scope="module")
def browser():
    assert CHROMIUM.exists(), f"{CHROMIUM} is missing: scripts/setup.sh installs Debian's chromium (apt-get install chromium)"
    from playwright.sync_api import sync_playwright

    with sync_playwright() as playwright:
        chromium = playwright.chromium.launch(executable_path=str(CHROMIUM), args=CHROMIUM_ARGS)
        yield chromium
        chromium.close()


@pytest.fixture
def page(browser):
    context = browser.new_context()
    yield context.new_page()
    context.close()


def test_the_runs_list_shows_every_run_and_names_the_corrupt_one_unreadable(view, runs, page):
    page.goto(view + "/")
    rows = page.locator("tr.run")
    assert rows.count() == len([p for p in runs.iterdir() if p.is_dir()])
    eval_row = page.locator("tr.run", has_text="eval-sentiment_small").first
    assert "smollm2-135m" in eval_row.inner_text() and "complete" in eval_row.inner_text()
    assert re.search(r"\d+\.\d% \[\d+\.\d%, \d+\.\d%\]", eval_row.inner_text())  # headline score with its interval
    optimize_row = page.locator(f"tr.run[data-run='{only_run(runs, '*-optimize-sentiment_small').name}']")
    assert "→" in optimize_row.inner_text()  # baseline → after
    corrupt = page.locator("tr.run", has_text="eval-corrupt").inner_text()
    assert "unreadable: results.json: not valid JSON" in corrupt and "line 1" in corrupt


def test_an_optimize_run_shows_its_report_and_prompts_side_by_side_with_a_diff(view, runs, page):
    run = only_run(runs, "*-optimize-sentiment_small-shipped")
    results = json.loads((run / "results.json").read_text())
    page.goto(f"{view}/runs/{run.name}/")
    report = page.locator("#report").inner_text()
    assert "Accepted candidates" in report and "Formats on val" in report  # the report's own tables
    assert page.locator("#report table").count() >= 3
    seed, best = results["seed_candidate"], results["best_candidate"]
    predictor = next(key for key in seed if not key.endswith((".demos", ".format")))
    sides = page.locator(".candidate")
    assert sides.first.get_attribute("data-label") == "seed"
    assert sides.first.locator("ins, del").count() == 0  # the seed against itself
    assert seed[predictor].strip() in sides.first.locator(".diff").inner_text()
    kept = {row["candidate"]: row.get("prompt") for row in results["iterations"]}
    assert sides.count() >= 2, "no candidate beside the seed: the run made no proposal to ship"
    for index in range(1, sides.count()):
        side = sides.nth(index)
        label = side.get_attribute("data-label")
        number = int(re.search(r"candidate (\d+)", label).group(1))
        texts = best if label.startswith("chosen") else kept[number]  # "chosen (candidate n)": the shipped one, results.json's best
        demos = json.loads(texts[predictor + ".demos"])
        assert f"format {texts[predictor + '.format']} demos {len(demos)}" in " ".join(side.inner_text().split())
        added = " ".join(side.locator("ins").all_inner_texts())
        if texts[predictor + ".format"] != seed[predictor + ".format"]:
            assert texts[predictor + ".format"].split()[-1] in added
        for demo in demos:  # few-shot injection's demos show as added against the seed's none
            assert " ".join(str(demo["text"]).split()[:4]) in added
    page.locator("#proposals summary").click()
    assert page.locator("#proposals tbody tr").count() == len(results["proposals"])
    # the two test evaluations compared: which examples flipped
    page.select_option("#compare select[name=a]", label=f"{run.name} · baseline_test")
    page.select_option("#compare select[name=b]", label=f"{run.name} · optimized_test")
    page.click("#compare button")
    before = {e["id"]: e["score"] for e in results["baseline_test"]["examples"]}
    after = {e["id"]: e["score"] for e in results["optimized_test"]["examples"]}
    better = sorted(i for i in before if after[i] > before[i])
    assert sorted(page.locator("table.better tr.flip").evaluate_all("rows => rows.map(r => r.dataset.id)")) == better
    assert f"{len(better)} better" in page.locator("#flip-counts").inner_text()


def test_the_failure_filter_shows_only_failures_and_each_opens_its_raw_calls(view, runs, page):
    run = only_run(runs, "*-eval-sentiment_small")
    examples = json.loads((run / "results.json").read_text())["examples"]
    page.goto(f"{view}/runs/{run.name}/")
    assert page.locator("tr.example").count() == len(examples)
    page.check("#filters input[name=failures]")
    page.click("#filters button")
    shown = page.locator("tr.example").evaluate_all("rows => rows.map(r => r.dataset.id)")
    assert shown == [e["id"] for e in examples if e["score"] < 1]
    first = examples[0]["id"]
    page.goto(f"{view}/runs/{run.name}/")
    page.click(f"tr.example[data-id='{first}'] a")
    text = next(row["text"] for row in map(json.loads, (runs.parent / "sentiment_small" / "data.jsonl").read_text().splitlines())
                if row["id"] == first)
    logged = [json.loads(line) for line in (run / "calls.jsonl").read_text().splitlines() if json.dumps(text)[1:-1] in line]
    calls = page.locator("details.call")
    assert calls.count() == len(logged) >= 1
    calls.first.locator("summary").click()
    assert text in calls.first.locator("pre.request").inner_text()
    assert '"max_tokens"' in calls.first.locator("pre.request").inner_text()
    assert calls.first.locator("pre.reply").inner_text().strip() == logged[0]["text"].strip()


def test_a_story_with_a_script_in_it_is_shown_as_text(view, runs, page):
    run = only_run(runs, "*-scripted")
    first = json.loads((run / "results.json").read_text())["examples"][0]["id"]
    for url in (f"{view}/runs/{run.name}/", f"{view}/runs/{run.name}/examples/{first}"):
        page.goto(url)
        assert "<script>document.title" in page.locator(".answer").first.inner_text()
        assert page.evaluate("window.pwned") is None and page.title() != "pwned"


def test_a_blind_rating_is_appended_to_ratings_jsonl_and_summarized_by_origin(view, runs, page):
    run = only_run(runs, "*-scripted")
    page.goto(f"{view}/runs/{run.name}/")
    page.click("#rate-link")
    page.fill("#rater-form input[name=rater]", "Ada")
    page.click("#rater-form button")
    assert page.locator("#progress").inner_text() == "0 of 4 rated"  # 2 stories of the run, 2 references
    page_html = page.content()
    assert "model:" not in page_html and "reference:" not in page_html  # origin hidden
    shown = page.locator("#text").inner_text()
    for question, value in (("coherence", 4), ("fluency", 5), ("fit", 2), ("liking", 3)):
        page.check(f"input[name={question}][value='{value}']")
    page.check("input[name=guess][value=person]")
    page.click("#submit-rating")
    assert page.locator("#progress").inner_text() == "1 of 4 rated"
    assert page.locator("#text").inner_text() != shown
    rows = [json.loads(line) for line in (run / "ratings.jsonl").read_text().splitlines()]
    assert len(rows) == 1
    assert {k: rows[0][k] for k in ("rater", "coherence", "fluency", "fit", "liking", "guess")} == {
        "rater": "Ada", "coherence": 4, "fluency": 5, "fit": 2, "liking": 3, "guess": "person"}
    origin = rows[0]["origin"]
    assert origin in ("model: smollm2-135m", "reference: smolopt authors (hand-written)")
    assert (SCRIPT in shown) == origin.startswith("model")  # every model text of this copy carries the script, shown as text
    page.goto(f"{view}/runs/{run.name}/")
    summary = page.locator("#rating-summary").inner_text()
    assert origin in summary and "100% [100, 100]" in summary  # taken for a person's: 1 of 1
    report = (run / "report.md").read_text()  # the run's report carries the same table, once, at its end
    assert report.count("## Blind ratings") == 1 and origin in report.split("## Blind ratings")[1]
    assert "Blind ratings" not in page.locator("#report").inner_text()  # shown once on the page: the live table


def test_paths_outside_the_runs_folder_are_refused_with_404(view, runs, page):
    run = only_run(runs, "*-eval-sentiment_small")
    for path in (f"/runs/{run.name}/files/leak.json",  # a symlink to a file outside
                 f"/runs/{run.name}/files/..%2F..%2Fsecret.json", f"/runs/{run.name}/files/%2e%2e/%2e%2e/secret.json",
                 "/runs/..%2Fsecret.json/files/x.json", f"/runs/{run.name}/files/cache.sqlite"):
        response = page.goto(view + path)
        assert response.status == 404, path
        assert "outside the runs folder" not in page.content()
    assert page.goto(f"{view}/runs/{run.name}/files/report.md").status == 200


def test_ratings_are_summarized_by_origin_with_intervals_and_the_share_taken_for_a_person():
    from smolopt.view.ratings import rating_rows, summarize

    def rated(origin: str, score: int, guess: str) -> dict:
        return {"origin": origin, "rater": f"r{score}", "coherence": score, "fluency": score, "fit": score, "liking": score, "guess": guess}

    rows = [rated("model: m", 2, "model"), rated("model: m", 4, "person"), rated("reference: people", 5, "person")]
    model, reference = summarize(rows)
    assert (model.origin, model.ratings, model.raters) == ("model: m", 2, 2)
    assert model.means["coherence"].value == 3.0 and model.means["coherence"].low == 2.0 and model.means["coherence"].high == 4.0
    assert model.taken_for_person.value == 0.5 and reference.taken_for_person.value == 1.0
    assert rating_rows([reference])[0] == ["reference: people", "1 (1)", "5.00 [5.00, 5.00]", "5.00 [5.00, 5.00]", "5.00 [5.00, 5.00]",
                                           "5.00 [5.00, 5.00]", "100% [100, 100]"]
