"""Which model, with which adapter: one value a run records and reads back, wherever it is resumed from."""

from __future__ import annotations

from pathlib import Path

import pytest

from cli_runner import ROOT
from smolopt.errors import SmoloptError
from smolopt.model_choice import ModelChoice, recorded_model_names
from smolopt.registry import load_registry


@pytest.fixture
def registry():
    return load_registry(ROOT / "models.toml")


def test_a_relative_adapter_is_recorded_resolved_with_its_sha256_and_read_back_from_anywhere(registry, tmp_path, monkeypatch):
    (tmp_path / "work").mkdir()
    (tmp_path / "work" / "my.gguf").write_bytes(b"adapter bytes")
    monkeypatch.chdir(tmp_path / "work")
    recorded = ModelChoice.of(registry, "smollm2-135m", "my.gguf").to_config(registry)
    assert recorded["entry"] == "smollm2-135m" and recorded["adapter"] == str(tmp_path / "work" / "my.gguf")
    assert len(recorded["adapter_sha256"]) == 64 and recorded["spec"]["lora"] == recorded["adapter"]

    monkeypatch.chdir(tmp_path)  # the resume, from the parent folder, where another my.gguf lies
    (tmp_path / "my.gguf").write_bytes(b"another file")
    again = ModelChoice.from_config(recorded)
    assert again.adapter == tmp_path / "work" / "my.gguf"
    assert again.served(registry)[1] == ModelChoice.of(registry, "smollm2-135m", tmp_path / "work" / "my.gguf").served(registry)[1]
    assert recorded_model_names({"model": recorded}) == ["smollm2-135m + my.gguf"]


def test_an_adapter_that_changed_or_went_is_refused_on_resume(registry, tmp_path):
    adapter = tmp_path / "adapter.gguf"
    adapter.write_bytes(b"first")
    recorded = ModelChoice.of(registry, None, adapter).to_config(registry)
    adapter.write_bytes(b"second")
    with pytest.raises(SmoloptError, match="the adapter changed since this run started"):
        ModelChoice.from_config(recorded)
    adapter.unlink()
    with pytest.raises(SmoloptError, match="the adapter this run was started with is gone"):
        ModelChoice.from_config(recorded)


def test_no_adapter_is_the_entry_itself(registry):
    choice = ModelChoice.of(registry, None)
    assert choice == ModelChoice(registry.default_student)
    assert choice.served(registry) == (registry, registry.default_student)
    assert ModelChoice.from_config(choice.to_config(registry)) == choice


def test_a_missing_adapter_file_is_one_line_naming_it(registry, tmp_path):
    with pytest.raises(SmoloptError, match=r"missing\.gguf: adapter file not found"):
        ModelChoice.of(registry, None, tmp_path / "missing.gguf")


def test_every_kind_of_server_says_whether_smolopt_starts_it(registry):
    started = {spec.provider: spec.started_here for spec in registry.models.values()}
    assert started["embedded"] is True
    assert not any(value for provider, value in started.items() if provider != "embedded")
