"""Bad input gets one line naming the file, entry and key, a non-zero exit, and no traceback."""

import subprocess
from pathlib import Path

import pytest
from cli_runner import run_smolopt

from smolopt.errors import SmoloptError
from smolopt.registry import load_registry

ROOT = Path(__file__).resolve().parent.parent


def write(tmp_path, text: str) -> Path:
    path = tmp_path / "models.toml"
    path.write_text(text)
    return path


def smolopt(tmp_path, *args, env_extra=None) -> subprocess.CompletedProcess:
    return run_smolopt(tmp_path, *args, env_extra=env_extra, timeout=120)


def assert_one_line_error(done: subprocess.CompletedProcess, *needles: str) -> None:
    assert done.returncode == 2
    lines = done.stderr.strip().splitlines()
    assert len(lines) == 1 and lines[0].startswith("smolopt: error:"), done.stderr
    assert "Traceback" not in done.stderr
    for needle in needles:
        assert needle in lines[0]


def test_the_shipped_registry_has_an_entry_for_every_provider():
    registry = load_registry(ROOT / "models.toml")
    assert {spec.provider for spec in registry.models.values()} == {"embedded", "lmstudio", "ollama", "llamacpp", "vllm", "openai"}
    assert registry.get(None).provider == "embedded"
    ports = {spec.provider: spec.base_url for spec in registry.models.values() if spec.base_url}
    assert ":1234/" in ports["lmstudio"] and ":11434/" in ports["ollama"] and ":8080/" in ports["llamacpp"]


@pytest.mark.parametrize("text, needles", [
    ('[models.x]\nprovider = "lmstuido"\nbase_url = "http://h/v1"\n', ["[models.x]", "'provider'", "must be one of"]),
    ('[models.x]\nprovider = "ollama"\nbase_url = "http://h/v1"\nmax_tokens = "many"\n', ["[models.x]", "'max_tokens'"]),
    ('[models.x]\nbase_url = "http://h/v1"\n', ["[models.x]", "'provider'", "missing"]),
    ('[models.x]\nprovider = "vllm"\n', ["[models.x]", "'base_url'"]),
    ('[models.x]\nprovider = "vllm"\nbase_url = "http://h/v1"\ntemprature = 0.2\n', ["'temprature'", "not a known setting"]),
    ('[models.x\nprovider = "vllm"\n', ["not valid TOML", "line 1"]),
])
def test_malformed_registry_entries_name_file_entry_and_key(tmp_path, text, needles):
    path = write(tmp_path, text)
    with pytest.raises(SmoloptError) as caught:
        load_registry(path)
    assert str(path) in str(caught.value)
    for needle in needles:
        assert needle in str(caught.value)
    assert_one_line_error(smolopt(tmp_path, "--registry", str(path), "models"), str(path))


def test_unknown_model_name(tmp_path):
    done = smolopt(tmp_path, "--registry", str(ROOT / "models.toml"), "eval", "sentiment", "--model", "gpt-7")
    assert_one_line_error(done, "no model named 'gpt-7'")


def test_missing_api_key_variable(tmp_path):
    done = smolopt(tmp_path, "--registry", str(ROOT / "models.toml"), "eval", "sentiment", "--model", "gpt-4o-mini",
                   env_extra={"OPENAI_API_KEY": ""})
    assert_one_line_error(done, "OPENAI_API_KEY")


def test_unreachable_server(tmp_path):
    path = write(tmp_path, '[models.down]\nprovider = "lmstudio"\nbase_url = "http://127.0.0.1:9/v1"\n')
    done = smolopt(tmp_path, "--registry", str(path), "eval", "sentiment", "--model", "down")
    assert_one_line_error(done, "'down'", "not reachable", "127.0.0.1:9")
    assert not list((tmp_path / "runs").glob("*")), "a run that never reached a model left a directory behind"


def test_unknown_task_and_bad_budget(tmp_path):
    assert_one_line_error(smolopt(tmp_path, "--registry", str(ROOT / "models.toml"), "eval", "sentimnt"), "no task 'sentimnt'")
    assert_one_line_error(smolopt(tmp_path, "--registry", str(ROOT / "models.toml"), "optimize", "sentiment", "--budget", "lots"), "--budget")


def test_models_lists_entries_and_reachability(tmp_path):
    done = smolopt(tmp_path, "--registry", str(ROOT / "models.toml"), "models", env_extra={"OPENAI_API_KEY": ""})
    assert done.returncode == 0, done.stderr
    assert "smollm2-135m" in done.stdout and "SmolLM2-135M-Instruct.Q4_1.gguf" in done.stdout
    assert "not reachable" in done.stdout and "OPENAI_API_KEY unset" in done.stdout


def test_tasks_lists_every_task_with_its_sizes(tmp_path):
    done = smolopt(tmp_path, "--registry", str(ROOT / "models.toml"), "tasks")
    assert done.returncode == 0, done.stderr
    for name in ("sentiment", "agent_monitor", "multihop_qa", "commonsense_mc"):
        assert name in done.stdout
    sentiment = next(line for line in done.stdout.splitlines() if "sentiment" in line)
    assert sentiment.count("78") == 2 and "96" in sentiment  # train, val, test


# --- bad bytes, wrong kinds of file, and messages that keep their subject --------------------------


def test_entry_names_in_brackets_survive_the_terminal(tmp_path):
    path = write(tmp_path, '[models.bad]\nprovider = "nope"\n')
    assert_one_line_error(smolopt(tmp_path, "--registry", str(path), "models"), "[models.bad]", "provider")
    assert_one_line_error(smolopt(tmp_path, "--registry", str(write(tmp_path, "[defaults]\n")), "models"), "no [models.NAME] entries")
    typo = write(tmp_path, '[model.live]\nprovider = "embedded"\n')
    assert_one_line_error(smolopt(tmp_path, "--registry", str(typo), "models"), "unknown table [model]", "[models.NAME] or [defaults]")


def test_a_registry_that_is_not_utf8_or_not_a_file(tmp_path):
    path = tmp_path / "models.toml"
    path.write_bytes(b'[models.x]\nprovider = "embedded"\ndescription = "caf\xe9"\n')
    assert_one_line_error(smolopt(tmp_path, "--registry", str(path), "models"), "models.toml", "not UTF-8")
    assert_one_line_error(smolopt(tmp_path, "--registry", str(tmp_path), "models"), "is a directory")


def test_a_base_url_without_a_scheme_is_named(tmp_path):
    path = write(tmp_path, '[models.live]\nprovider = "llamacpp"\nbase_url = "localhost:8080/v1"\n')
    assert_one_line_error(smolopt(tmp_path, "--registry", str(path), "models"), "[models.live]", "base_url", "http://")


def test_task_files_that_are_not_utf8_or_exit_while_loading(tmp_path):
    import shutil

    folder = tmp_path / "mytask"
    shutil.copytree(ROOT / "tasks" / "sentiment", folder)
    data = (folder / "data.jsonl").read_bytes().splitlines()
    data[4] = data[4].replace(b"The", b"Th\xff")
    (folder / "data.jsonl").write_bytes(b"\n".join(data))
    registry = str(ROOT / "models.toml")
    assert_one_line_error(smolopt(tmp_path, "--registry", registry, "eval", str(folder)), "data.jsonl:5", "not UTF-8")
    shutil.copy(ROOT / "tasks" / "sentiment" / "data.jsonl", folder / "data.jsonl")
    (folder / "rules.txt").write_bytes(b"ok\n\xfe\n")
    assert_one_line_error(smolopt(tmp_path, "--registry", registry, "eval", str(folder)), "rules.txt:2", "not UTF-8")
    (folder / "rules.txt").write_text("ok\n")
    (folder / "task.py").write_text("import sys\nsys.exit(3)\n")
    assert_one_line_error(smolopt(tmp_path, "--registry", registry, "eval", str(folder)), "task.py", "sys.exit(3)")


def test_a_budget_of_unicode_digits_is_refused(tmp_path):
    assert_one_line_error(smolopt(tmp_path, "--registry", str(ROOT / "models.toml"), "optimize", "sentiment", "--budget", "²"), "--budget")


def test_resume_refuses_flags_it_would_ignore(tmp_path):
    run = tmp_path / "runs" / "x"
    run.mkdir(parents=True)
    (run / "config.json").write_text('{"command": "optimize"}')
    done = smolopt(tmp_path, "--registry", str(ROOT / "models.toml"), "optimize", "--resume", str(run), "--budget", "50")
    assert_one_line_error(done, "--resume", "--budget")


def test_resume_of_an_eval_run_or_a_corrupt_config_is_named(tmp_path):
    run = tmp_path / "runs" / "an-eval"
    run.mkdir(parents=True)
    (run / "config.json").write_text('{"command": "eval", "task": "sentiment"}')
    registry = str(ROOT / "models.toml")
    assert_one_line_error(smolopt(tmp_path, "--registry", registry, "optimize", "--resume", str(run)), "'eval' run", "optimize")
    (run / "config.json").write_text('{"command": "optimize", "task": ')
    assert_one_line_error(smolopt(tmp_path, "--registry", registry, "optimize", "--resume", str(run)), "config.json", "not a readable")


def test_deploy_is_checked_before_anything_runs(tmp_path):
    """An unknown --deploy entry, and tuned weights for a deployment that loads no weights file, are one line and no run."""
    assert_one_line_error(smolopt(tmp_path, "--registry", str(ROOT / "models.toml"), "optimize", "sentiment", "--deploy", "nosuch"), "nosuch")
    done = smolopt(tmp_path, "--registry", str(ROOT / "models.toml"), "optimize", "sentiment", "--deploy", "gpt-4o-mini", "--weights", "lora")
    assert_one_line_error(done, "--weights lora", "--deploy 'gpt-4o-mini'", "openai", "loads no weights file")
    assert not (tmp_path / "runs").exists()
