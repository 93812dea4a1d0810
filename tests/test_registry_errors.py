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
