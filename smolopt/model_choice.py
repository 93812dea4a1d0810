"""Which model, with which adapter: one value, built once, written to config.json by one function
and read back by one, the same for every command (eval, optimize, probe, tune).

    config.json "model": {"entry": "smollm2-135m", "adapter": "/abs/runs/…/adapter.gguf",
                          "adapter_sha256": "…", "spec": {… the entry as it was served …}}

The adapter is kept as the resolved path and its sha256, never as typed: a run stopped and
resumed from another directory serves the very file it started with, and a file that changed
since (another tune wrote over it) is refused rather than served. The registry entry that serves
the pair gets a name of its own (`smolopt.registry.with_adapter`), so the call cache never mixes
its answers with the base model's; that name is made here and never parsed back.
"""

from __future__ import annotations

from dataclasses import dataclass
from pathlib import Path
from typing import Any

from smolopt.backends.weights import sha256_of
from smolopt.errors import SmoloptError
from smolopt.registry import Registry, with_adapter


@dataclass(frozen=True)
class ModelChoice:
    """A registry entry and, optionally, the LoRA adapter served on it."""

    entry: str
    adapter: Path | None = None
    adapter_sha256: str | None = None

    @classmethod
    def of(cls, registry: Registry, name: str | None, adapter: str | Path | None = None) -> ModelChoice:
        """The entry `name` (default: the registry's student) with `adapter` resolved and hashed now."""
        entry = registry.get(name).name
        if adapter is None:
            return cls(entry)
        path = Path(adapter).expanduser().resolve()
        if not path.is_file():
            raise SmoloptError(f"{path}: adapter file not found")
        return cls(entry, path, sha256_of(path))

    def served(self, registry: Registry) -> tuple[Registry, str]:
        """The registry with the entry that serves this choice, and that entry's name."""
        if self.adapter is None:
            return registry, registry.get(self.entry).name
        return with_adapter(registry, self.entry, self.adapter)

    def to_config(self, registry: Registry) -> dict[str, Any]:
        """This choice as config.json records it (with the served entry's spec, secrets excluded)."""
        registry, name = self.served(registry)
        return {"entry": self.entry, "adapter": str(self.adapter) if self.adapter else None,
                "adapter_sha256": self.adapter_sha256, "spec": registry.get(name).public()}

    @classmethod
    def from_config(cls, recorded: dict[str, Any]) -> ModelChoice:
        """The choice a config.json recorded; its adapter must still be the same file."""
        adapter = recorded.get("adapter")
        if adapter is None:
            return cls(recorded["entry"])
        path = Path(adapter)
        if not path.is_file():
            raise SmoloptError(f"{path}: the adapter this run was started with is gone")
        if sha256_of(path) != recorded["adapter_sha256"]:
            raise SmoloptError(f"{path}: the adapter changed since this run started (sha256 differs); start a new run to use it")
        return cls(recorded["entry"], path, recorded["adapter_sha256"])


def recorded_model_names(config: dict[str, Any]) -> list[str]:
    """The models a run's config.json records, as "entry" or "entry + adapter file" (the view's runs list)."""
    recorded = config.get("models") if isinstance(config.get("models"), list) else [config.get("model")]
    names = []
    for model in recorded:
        if isinstance(model, dict) and model.get("entry"):
            names.append(model["entry"] + (f" + {Path(model['adapter']).name}" if model.get("adapter") else ""))
    return names
