"""Whether a registry entry can be used now, and what its server really offers.

`smolopt models` shows this for every entry. A reachable server gets one tiny request
(a plain-text completion of one token, with logprobs: /v1/completions, or Ollama's /api/generate)
that says whether it serves plain-text completions and returns token logprobs, next to what the
entry declares; a server whose reply is not a completion at all (an HTML page) is flagged. An
Ollama server also says its version, which decides whether it gives logprobs. The embedded server
is started on demand, so only its weights are looked for, and the threads and replicas it will
start with are shown.
"""

from __future__ import annotations

import os
from dataclasses import dataclass

from smolopt.backends import ollama
from smolopt.backends.client import LocalClient
from smolopt.backends.embedded import default_threads, served_models
from smolopt.backends.servers import default_parallel
from smolopt.backends.weights import resolve_gguf
from smolopt.errors import BadReply, SmoloptError
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
    version: str | None = None  # what the server says it is, where it says (Ollama's /api/version)


def check_offers(client: LocalClient) -> tuple[dict[str, bool], str | None]:
    """One tiny completion request: does the server serve plain-text completions, with logprobs?
    Also what it answered instead of a completion, when that was no completion at all."""
    try:
        reply = client.complete("Hello", max_tokens=1, temperature=0.0, logprobs=True)
    except BadReply as err:
        return dict.fromkeys(CHECKED, False), str(err).rpartition("without a completion: ")[2]
    except SmoloptError:
        return dict.fromkeys(CHECKED, False), None
    return {"completions": True, "logprobs": reply.top_logprobs is not None}, None


def embedded_setup(spec: ModelSpec) -> str:
    """'2 servers × 1 thread (1 for prompts), 2 at once': how it will be started."""
    threads, batch_threads = default_threads(spec)
    servers = f"{spec.replicas} servers" if spec.replicas > 1 else "1 server"
    return f"{servers} × {threads} thread{'s' * (threads > 1)} ({batch_threads} for prompts), {default_parallel(spec, [])} at once"


def model_status(spec: ModelSpec) -> ModelStatus:
    declared = tuple(c for c in ("chat", "completions", "logprobs") if spec.can(c))  # type: ignore[arg-type]
    if spec.started_here:
        try:
            ready = f"ready: started on demand; {embedded_setup(spec)}"
            return ModelStatus(resolve_gguf(spec).name, "127.0.0.1 (embedded)", ready, declared)
        except SmoloptError as err:
            return ModelStatus(spec.model or spec.name, "127.0.0.1 (embedded)", f"missing: {err}", declared)
    urls = [url.rstrip("/") for url in spec.urls()]
    where, serves = " ".join(urls), spec.model or spec.name
    if spec.api_key_env and not os.environ.get(spec.api_key_env):
        return ModelStatus(serves, where, f"no key (${spec.api_key_env} unset)", declared)
    listed = {url: found for url in urls if (found := served_models(url, timeout=min(spec.timeout, 5.0), api_key=spec.api_key())) is not None}
    if not listed:
        return ModelStatus(serves, where, "not reachable", declared)
    live = list(listed)
    client = LocalClient(spec, live)
    try:
        found, not_completion = check_offers(client)
    finally:
        client.close()
    if not_completion is not None:
        return ModelStatus(serves, where, f"answers, but not with completions: {not_completion}", declared, found)
    models = next(iter(listed.values()))
    status = "reachable, serving " + (", ".join(models[:3]) or "no models")
    if len(live) < len(urls):
        status += f" ({len(live)} of {len(urls)} servers answer)"
    version = ollama.server_version(live[0], timeout=min(spec.timeout, 5.0)) if spec.kind.native_api == "ollama" else None
    if version and not found["logprobs"] and ollama.gives_no_logprobs(version):
        status += f"; token logprobs from Ollama {ollama.LOGPROBS_SINCE}"
    return ModelStatus(serves, where, status, declared, found, version)
