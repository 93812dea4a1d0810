"""The web app of `smolopt view`: pages over a runs folder, read-only except ratings.jsonl (and
report.md's ratings tables, refreshed with each rating; pairs.key, the secret behind the pairs' sides).

    /                              the runs list (and a form to compare two evaluations)
    /runs/<run>/                   one run: report, plots, prompts side by side, ratings, examples
    /runs/<run>/examples/<id>      one example in each of the run's evaluations, with its raw calls
    /runs/<run>/files/<name>       a file of the run (plots, report.md, results.json, calls.jsonl)
    /runs/<run>/rate               blind rating of a free-text run's texts (GET shows, POST appends)
    /runs/<run>/pairs              a tuned free-text run's base and tuned texts side by side as A and B, blind
    /compare?a=<run>::<eval>&b=…   the same examples in two evaluations: which flipped

Templates render with autoescape on whatever their name: every string that reaches a page may be
model text. Every file path goes through `smolopt.view.paths.inside`, so nothing outside the runs
folder is ever served (a 404, as for a run that does not exist).
"""

from __future__ import annotations

from pathlib import Path
from typing import Any
from urllib.parse import parse_qs, quote, urlencode

import jinja2
from fastapi import FastAPI, HTTPException, Request
from fastapi.responses import FileResponse, HTMLResponse, RedirectResponse
from fastapi.templating import Jinja2Templates

from smolopt.errors import SmoloptError
from smolopt.evaluation import EvalResult
from smolopt.view import pairs, ratings
from smolopt.view.calls import calls_for
from smolopt.view.evaluations import Filters, compare
from smolopt.view.markdown import report_html
from smolopt.view.paths import inside
from smolopt.view.preference import SCALE, preference_section, summarize_pairs
from smolopt.view.prompts import prompt_table
from smolopt.view.runs_index import RunFolder, RunsIndex
from smolopt.view.tables import generic_table

TEMPLATES = Path(__file__).parent / "templates"
REPORTS = ("report.md", "card.md")
# Only what a run folder holds for people to read: its plots and its text files (not cache.sqlite).
SERVED = {".png": "image/png", ".md": "text/plain; charset=utf-8", ".json": "application/json", ".jsonl": "text/plain; charset=utf-8"}
SEP = "::"
# Examples per run page: Chromium takes 0.6-0.9 s to lay out a page of 1,000 example rows on this
# 2-core machine and 0.2 s for 200 (scripts/bench_view.py), so longer runs page on.
PAGE = 200


def not_found(what: str) -> HTTPException:
    return HTTPException(status_code=404, detail=what)


def served_files(run: RunFolder) -> list[str]:
    """The run's files a page links to (a link out of the run folder is not one of them)."""
    return sorted(p.name for p in run.path.iterdir() if p.suffix in SERVED and inside(run.path, p.name) and p.is_file())


async def posted_form(request: Request) -> dict[str, str]:
    return {key: values[-1] for key, values in parse_qs((await request.body()).decode("utf-8", "replace")).items()}


def create_app(runs_root: Path) -> FastAPI:
    """The view over `runs_root` (its runs are read when asked for, so new runs appear on reload)."""
    index = RunsIndex(runs_root)
    env = jinja2.Environment(loader=jinja2.FileSystemLoader(TEMPLATES), autoescape=True, undefined=jinja2.StrictUndefined)
    env.filters["pct"] = lambda value: f"{100 * value:.1f}%"
    env.filters["q"] = lambda value: quote(str(value), safe="")
    templates = Jinja2Templates(env=env)
    app = FastAPI(title="smolopt view", docs_url=None, redoc_url=None, openapi_url=None)

    def page(request: Request, name: str, status_code: int = 200, **context: Any) -> HTMLResponse:
        return templates.TemplateResponse(request, name, {"runs_root": runs_root, **context}, status_code=status_code)

    def readable_run(run_id: str) -> RunFolder:
        run = index.get(run_id)
        if run is None:
            raise not_found(f"no run folder '{run_id}' in {runs_root}")
        return run

    def evaluation_choices() -> list[tuple[str, str]]:
        return [(f"{run.id}{SEP}{name}", f"{run.id} · {name}") for run in index.runs() if not run.unreadable for name in run.evaluations]

    def chosen_evaluation(ref: str) -> tuple[RunFolder, str, EvalResult]:
        run_id, _, name = ref.rpartition(SEP)
        run = readable_run(run_id)
        if name not in run.evaluations:
            raise not_found(f"run '{run_id}' has no evaluation '{name}'")
        return run, name, run.evaluations[name]

    @app.exception_handler(HTTPException)
    async def http_error(request: Request, exc: HTTPException) -> HTMLResponse:
        return page(request, "error.html", status_code=exc.status_code, status=exc.status_code, message=str(exc.detail))

    @app.exception_handler(ratings.BadRating)
    async def bad_rating(request: Request, exc: ratings.BadRating) -> HTMLResponse:
        """A rater's name or answer the pages cannot take (every rate and pairs handler): 400, the reason on the page."""
        return page(request, "error.html", status_code=400, status=400, message=str(exc))

    @app.get("/", response_class=HTMLResponse)
    def runs_list(request: Request) -> HTMLResponse:
        if not runs_root.is_dir():  # moved or deleted while the view runs: say so, not an empty list
            raise HTTPException(status_code=503, detail=f"{runs_root}: the runs folder is not there any more (moved or deleted?)")
        try:
            return page(request, "runs.html", runs=index.runs(), choices=evaluation_choices())
        except OSError as err:
            raise HTTPException(status_code=503, detail=f"{runs_root}: cannot read the runs folder ({err.strerror or err})") from None

    @app.get("/runs/{run_id}", response_class=HTMLResponse)
    def run_without_slash(run_id: str) -> RedirectResponse:
        return RedirectResponse(f"/runs/{quote(run_id, safe='')}/", status_code=308)

    @app.get("/runs/{run_id}/", response_class=HTMLResponse)
    def run_page(request: Request, run_id: str, eval: str = "", failures: bool = False, echoes: bool = False,
                 unparsed: bool = False, label: str = "", start: int = 0) -> HTMLResponse:
        run = readable_run(run_id)
        if run.unreadable:
            return page(request, "unreadable.html", run=run)
        name = eval if eval in run.evaluations else (run.final_evaluation() or ("", None))[0]
        filters = Filters(failures, echoes, unparsed, label)
        matching = [e for e in run.evaluations[name].examples if filters.keep(e)] if name else []
        start = max(0, min(start, len(matching) - 1)) // PAGE * PAGE if matching else 0
        query = {key: value for key, value in request.query_params.items() if key != "start"}
        report = next((run.path / file for file in REPORTS if (run.path / file).is_file()), None)
        files_url = f"/runs/{quote(run.id, safe='')}/files"
        # report.md's ratings table is left out: the page shows the live one, read from ratings.jsonl
        report_text = ratings.without_ratings(report.read_text(encoding="utf-8", errors="replace")) if report else ""
        plots = sorted(p.name for p in run.path.glob("*.png") if p.name not in report_text)
        try:
            rated, ratings_problem = ratings.read_ratings(run.path), None
        except ratings.BadRating as err:
            rated, ratings_problem = [], str(err)
        summary, preference = ratings.summarize(rated), summarize_pairs(rated)
        results = run.results or {}
        return page(
            request, "run.html", run=run, report=report_html(report_text, files_url) if report else "", report_name=report.name if report else "",
            plots=plots, files_url=files_url, files=served_files(run),
            prompts=prompt_table(results), arms=generic_table(results.get("arms")), proposals=results.get("proposals") or [],
            ratings_table=ratings.ratings_section(summary) if summary else None, ratings_problem=ratings_problem,
            preference_table=preference_section(preference) if preference else None, pairs_ready=pairs.sides_of(run) is not None,
            eval_name=name, examples=matching[start:start + PAGE], matching=len(matching), start=start, page_size=PAGE,
            page_link=lambda at: f"?{urlencode({**query, 'start': at})}#examples", filters=filters, labels=run.gold_labels,
            choices=evaluation_choices(), sep=SEP,
        )

    @app.get("/runs/{run_id}/examples/{example_id}", response_class=HTMLResponse)
    def example_page(request: Request, run_id: str, example_id: str) -> HTMLResponse:
        run = readable_run(run_id)
        found = {name: e for name, ev in run.evaluations.items() for e in ev.examples if e.id == example_id}
        if not found:
            raise not_found(f"run '{run_id}' has no example '{example_id}'")
        inputs = run.task.inputs_of(example_id)
        return page(request, "example.html", run=run, example_id=example_id, inputs=inputs, found=found,
                    calls=calls_for(run.path / "calls.jsonl", inputs))

    @app.get("/runs/{run_id}/files/{name:path}")
    def run_file(run_id: str, name: str) -> FileResponse:
        run = readable_run(run_id)
        path = inside(run.path, name)
        if path is None or path.suffix not in SERVED or not path.is_file():
            raise not_found(f"no file '{name}' in run '{run_id}'")
        return FileResponse(path, media_type=SERVED[path.suffix])

    @app.get("/compare", response_class=HTMLResponse)
    def compare_page(request: Request, a: str, b: str) -> HTMLResponse:
        (run_a, name_a, before), (run_b, name_b, after) = chosen_evaluation(a), chosen_evaluation(b)
        return page(request, "compare.html", run_a=run_a, name_a=name_a, run_b=run_b, name_b=name_b,
                    comparison=compare(before, after), before=before, after=after)

    def texts_of(run: RunFolder) -> list[ratings.Text]:
        if not run.free_text:
            raise not_found(f"run '{run.id}' has label answers; blind rating is for free-text runs (story, long_story)")
        try:
            return ratings.texts_to_rate(run)
        except SmoloptError as err:
            raise HTTPException(status_code=500, detail=str(err)) from None

    @app.get("/runs/{run_id}/rate", response_class=HTMLResponse)
    def rate_page(request: Request, run_id: str, rater: str = "") -> HTMLResponse:
        run = readable_run(run_id)
        texts = texts_of(run)
        if not rater.strip():
            return page(request, "rate_start.html", run=run, texts=texts)
        name = ratings.clean_rater(rater)
        text, done = ratings.next_text(texts, ratings.read_ratings(run.path), name)
        return page(request, "rate.html", run=run, rater=name, text=text, done=done, total=len(texts),
                    questions=ratings.QUESTIONS, scale=list(ratings.SCALE), guesses=ratings.GUESSES)

    @app.post("/runs/{run_id}/rate")
    async def rate_submit(request: Request, run_id: str) -> RedirectResponse:
        run = readable_run(run_id)
        texts = texts_of(run)
        form = await posted_form(request)
        row = ratings.rating_row(form, texts)
        ratings.save_rating(run.path, row)
        return RedirectResponse(f"/runs/{quote(run.id, safe='')}/rate?rater={quote(row['rater'], safe='')}", status_code=303)

    def paired_sides(run: RunFolder) -> tuple[str, str]:
        if (sides := pairs.sides_of(run)) is None:
            raise not_found(f"run '{run.id}' has no base and tuned texts to read side by side (a tune, or optimize --weights, of a free-text task)")
        return sides

    @app.get("/runs/{run_id}/pairs", response_class=HTMLResponse)
    def pairs_page(request: Request, run_id: str, rater: str = "") -> HTMLResponse:
        run = readable_run(run_id)
        sides = paired_sides(run)
        if not rater.strip():
            return page(request, "pairs_start.html", run=run, count=len(pairs.shared_examples(run, sides)))
        name = ratings.clean_rater(rater)
        shown = pairs.shown(run, pairs.pairing(run, sides, name), name, ratings.read_ratings(run.path))
        return page(request, "pairs.html", run=run, rater=name, pairs=shown, done=sum(p.answer is not None for p in shown), scale=list(SCALE))

    @app.post("/runs/{run_id}/pairs")
    async def pairs_submit(request: Request, run_id: str) -> RedirectResponse:
        run = readable_run(run_id)
        sides = paired_sides(run)
        form = await posted_form(request)
        name = ratings.clean_rater(form.get("rater", ""))
        row, number = pairs.answer_row(pairs.pairing(run, sides, name), name, form, ratings.read_ratings(run.path))
        ratings.save_rating(run.path, row)
        return RedirectResponse(f"/runs/{quote(run.id, safe='')}/pairs?rater={quote(name, safe='')}#pair-{number}", status_code=303)

    return app
