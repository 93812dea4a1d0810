"""`smolopt view`: a local web page over run folders, and blind rating of free-text runs.

    app.py          routes and pages (FastAPI, Jinja2 templates with autoescape on)
    runs_index.py   reading run folders safely (a bad one is listed as unreadable, with the reason)
    evaluations.py  results.json's evaluations as the core's EvalResult; filters; comparisons
    task_folder.py  example inputs, labels and references from the run's task folder (no code run)
    prompts.py      an optimize run's candidates side by side, word diff against the seed
    calls.py        the raw calls behind one example, from calls.jsonl
    ratings.py      blind rating: texts to rate, ratings.jsonl, mean ratings by origin (page and report.md)
    pairs.py        blind pairs: base and tuned texts for the same idea as A and B, the sides drawn server side
    preference.py   pair answers in ratings.jsonl, and how often tuned was preferred (with its interval)
    markdown.py     report.md as HTML, model text escaped
    paths.py        the one check that keeps every path inside the runs folder
"""
