"""How a tune changes the weights: one protocol, so a second method (a full fine-tune of a 135M,
DoRA, prompt tuning) is one new module beside `lora.py` and its name in `METHODS`.

Where the weights come from and what the server loads afterwards is the other axis
(`smolopt.tune.base.Weights`: a GGUF file or a Hugging Face folder); training (`smolopt.tune.train`)
sees only this protocol: it attaches the method to the loaded model, trains what the method made
trainable, and checkpoints and returns the method's state.
"""

from __future__ import annotations

from typing import Any, Protocol

from smolopt.errors import SmoloptError
from smolopt.tune.lora import LORA


class Method(Protocol):
    """A way of tuning: what it adds to the model, and the state a checkpoint and an export keep."""

    name: str

    def attach(self, model: Any, settings: Any) -> Any:
        """The model to train (its trainable parameters are the method's), from the base model."""

    def state(self, model: Any) -> dict[str, Any]:
        """What the method changed, as tensors by name: checkpointed each epoch, exported at the end."""

    def restore(self, model: Any, state: dict[str, Any]) -> None:
        """Put a checkpoint's state back into the attached model (a resumed tune)."""


METHODS: dict[str, Method] = {method.name: method for method in (LORA,)}


def method_named(name: str) -> Method:
    """The tuning method called `name` (Settings.method)."""
    if name not in METHODS:
        raise SmoloptError(f"unknown tuning method '{name}' (known: {', '.join(sorted(METHODS))})")
    return METHODS[name]
