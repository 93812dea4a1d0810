"""Whether a registry entry can be used now, and what its server really offers.

`smolopt models` shows this for every entry. A reachable server gets one tiny request
(/v1/completions, one token, with logprobs) that says whether it serves plain-text completions
and returns token logprobs, next to what the entry declares; the embedded server is started on
demand, so only its weights are looked for.
"""

from __future__ import annotations

import os
from dataclasses import dataclass

from smolopt.backends.client import LocalClient
from smolopt.backends.embedded import resolve_gguf, served_models
from smolopt.errors import SmoloptError
from smolopt.registry import ModelSpec

CHECKED = ("completions", "logprobs")


@dataclass
class ModelStatus:
    """One entry as `smolopt models` reports it."""

    serves: str
    where: str
    status: str
    declared: tuple[str, ...]
    found: dict[str, bool] | None = None  # what the tiny request found; None when none was made


def check_offers(client: LocalClient) -> dict[str, bool]:
    """One tiny completion request: does the server serve /v1/completions, and send logprobs there?"""
    try:
        reply = client.complete("Hello", max_tokens=1, temperature=0.0, logprobs=True)
    except SmoloptError:
        return dict.fromkeys(CHECKED, False)
    return {"completions": True, "logprobs": reply.top_logprobs is not None}


def model_status(spec: ModelSpec) -> ModelStatus:
    declared = tuple(c for c in ("chat", "completions", "logprobs") if spec.can(c))  # type: ignore[arg-type]
    if spec.provider == "embedded":
        try:
            return ModelStatus(resolve_gguf(spec).name, "127.0.0.1 (embedded)", "ready: started on demand", declared)
        except SmoloptError as err:
            return ModelStatus(spec.model or spec.name, "127.0.0.1 (embedded)", f"missing: {err}", declared)
    base_url = spec.base_url.rstrip("/")
    serves = spec.model or spec.name
    if spec.api_key_env and not os.environ.get(spec.api_key_env):
        return ModelStatus(serves, base_url, f"no key (${spec.api_key_env} unset)", declared)
    if (listed := served_models(base_url, timeout=min(spec.timeout, 5.0))) is None:
        return ModelStatus(serves, base_url, "not reachable", declared)
    client = LocalClient(spec, base_url)
    try:
        found = check_offers(client)
    finally:
        client.close()
    return ModelStatus(serves, base_url, "reachable, serving " + (", ".join(listed[:3]) or "no models"), declared, found)
