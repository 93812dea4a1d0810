"""A run's Models gains an adapter entry in place: the next `lm` of that name would serve it."""

from __future__ import annotations

from pathlib import Path

from smolopt.backends import Models
from smolopt.registry import load_registry

ROOT = Path(__file__).resolve().parent.parent


def test_with_adapter_adds_the_entry_to_the_runs_registry_and_names_it(tmp_path: Path):
    adapter = tmp_path / "run-1" / "adapter.gguf"
    with Models(load_registry(ROOT / "models.toml")) as models:  # nothing starts until a client is asked for
        name = models.with_adapter("smollm2-135m", adapter)
        assert name == "smollm2-135m+run-1/adapter"
        assert models.registry.get(name).lora == str(adapter) and models.registry.get("smollm2-135m").lora is None
