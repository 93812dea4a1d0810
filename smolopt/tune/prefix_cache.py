"""A shared prompt prefix run once through transformers: each layer's keys and values, read by every row.

The prefix goes through the model once at batch size 1 and each row runs only its own tokens,
attending over the prefix's keys and values. Those are expanded (a view) over the rows, so in
training the backward pass sums every row's gradient into the one prefix computation, as it
would have flowed into each row's own copy: the step is the one taken without sharing
(tests/test_tune_train.py compares gradients, loss and val scores).

Checked exact on transformers 5.24 for llama (SmolLM2) and gemma3 (Gemma 3's sliding-window
layers too: the rows see the whole prefix, and the sliding-window mask, sized from the cache,
hides what a layer must not see, as without sharing). Other architectures, and a transformers
whose layers cannot keep a cache under gradient checkpointing, run each row whole (`shares_prefixes`).
Imports torch and transformers: only a tune imports this module.
"""

from __future__ import annotations

import inspect
from collections.abc import Iterator
from contextlib import contextmanager
from dataclasses import dataclass
from typing import Any

import torch
from transformers.cache_utils import Cache, DynamicLayer
from transformers.modeling_layers import GradientCheckpointingLayer

ARCHITECTURES = ("llama", "gemma3_text")  # config.model_type values checked exact (tests/test_tune_train.py)


def _base(model: Any) -> Any:
    """The transformers model under a peft model (or the model itself)."""
    return model.get_base_model() if hasattr(model, "get_base_model") else model


def shares_prefixes(model: Any) -> bool:
    """Whether `model` runs a shared prefix exactly: an architecture checked, and a transformers
    whose model takes a `cache` and whose layers may keep it under gradient checkpointing."""
    base = _base(model)
    return (getattr(base.config, "model_type", None) in ARCHITECTURES
            and hasattr(GradientCheckpointingLayer, "_can_checkpoint_with_cache")
            and "cache" in inspect.signature(type(base).forward).parameters)


class _Recorded(DynamicLayer):
    """Keeps the keys and values its layer computed over the prefix and holds none before them: a
    layer replayed by gradient checkpointing overwrites them with the same values, not appends again."""

    def update(self, key_states: Any, value_states: Any, *args: Any, **kwargs: Any) -> tuple[Any, Any]:
        self.recorded = (key_states, value_states)
        return key_states, value_states


class _Shared(DynamicLayer):
    """The prefix's keys and values expanded over the rows and never grown: every call (a replay too)
    attends over the prefix followed by the rows' own tokens."""

    def __init__(self, keys: Any, values: Any, rows: int) -> None:
        super().__init__()
        self.keys, self.values = keys.expand(rows, -1, -1, -1), values.expand(rows, -1, -1, -1)
        self.device, self.is_initialized = keys.device, True

    def update(self, key_states: Any, value_states: Any, *args: Any, **kwargs: Any) -> tuple[Any, Any]:
        return torch.cat([self.keys, key_states], dim=-2), torch.cat([self.values, value_states], dim=-2)


@contextmanager
def cache_under_checkpointing(model: Any) -> Iterator[None]:
    """Let the decoder layers keep the cache they are given under gradient checkpointing, for the
    calls inside. transformers drops it there, since a layer that appends to its cache would append
    again when the backward pass replays it; the two cache layers here give the same states on a
    replay. It is read when a layer runs forward, so the replay in the backward pass keeps it too."""
    layers = [module for module in model.modules() if isinstance(module, GradientCheckpointingLayer)]
    for layer in layers:
        layer._can_checkpoint_with_cache = True
    try:
        yield
    finally:
        for layer in layers:
            del layer._can_checkpoint_with_cache


@dataclass(frozen=True)
class Prefix:
    """A prefix run once: each layer's keys and values over it (batch 1; in training, with their gradients' path)."""

    states: list[tuple[Any, Any]]
    length: int

    def inputs(self, mask: Any) -> dict[str, Any]:
        """The model's keyword arguments for rows of their own tokens after this prefix (`mask`: rows ×
        own tokens, right-padded): the cache, a mask over prefix and own tokens, positions after the prefix."""
        rows, width = mask.shape
        return {"cache": Cache(layers=[_Shared(keys, values, rows) for keys, values in self.states]),
                "attention_mask": torch.cat([mask.new_ones(rows, self.length), mask], dim=1),
                "position_ids": (torch.arange(width, device=mask.device) + self.length).expand(rows, -1)}


def run_prefix(model: Any, ids: list[int]) -> Prefix:
    """Run the tokens `ids` once (inside `cache_under_checkpointing`) and keep each layer's keys and values."""
    cache = Cache(layers=[_Recorded() for _ in range(_base(model).config.num_hidden_layers)])
    # One position's logits: none of the prefix's is read (its last token stays in every row's own part).
    model(input_ids=torch.tensor([ids], device=model.device), cache=cache, use_cache=False, logits_to_keep=1)
    return Prefix([layer.recorded for layer in cache.layers], len(ids))
