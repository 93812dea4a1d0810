"""What each kind of server does differently: how end-of-text is kept from answering a scoring
request, and how many requests it takes at once.

Recorded replies of every server named here are pinned in tests/test_recorded_replies.py.
"""

from __future__ import annotations

import httpx

from smolopt.registry import ModelSpec

# Body fields that keep end-of-text from being the one token a scoring request generates. A model
# that would end its answer at once otherwise generates nothing and the server lists no token
# scores, and the request had to be sent again with end-of-text forbidden (1.29 calls per scored
# sentiment example on the 135M). Every server here computes the listed log-probabilities from the
# logits before this constraint, so the labels' scores are the ones the model gave.
# - llama-cpp-python's server (embedded) and vLLM honour `min_tokens`;
# - llama.cpp's llama-server does not know `min_tokens` but has `ignore_eos` (a bias of -inf on
#   every end-of-generation token); "llamacpp" entries are served by either, and each ignores the
#   other's field;
# - LM Studio, Ollama and hosted APIs have neither (OpenAI answers an unknown field with HTTP 400),
#   so an answer that ends at once stays unscored there and the example is answered by generating.
END_OF_TEXT_FORBIDDEN: dict[str, dict] = {
    "embedded": {"min_tokens": 1},
    "vllm": {"min_tokens": 1},
    "llamacpp": {"min_tokens": 1, "ignore_eos": True},
    "lmstudio": {},
    "ollama": {},
    "openai": {},
}

# Requests sent at once when the entry sets no `parallel`. LM Studio answers four at once by
# default; Ollama answers one per loaded model unless OLLAMA_NUM_PARALLEL says otherwise; vLLM
# batches far more than a thread per request here is worth; hosted APIs limit by rate, not slots.
# llama-server says its slot count at /props (below). llama-cpp-python's server holds a lock per
# request, so an embedded entry takes as many at once as it has replicas: measured on 2 cores (48
# sentiment examples), one server took 13.6 s one at a time and 15.0 s two at a time; two
# single-thread replicas took 7.5 s two at a time (12.8 s one at a time), with the same answers.
PROVIDER_PARALLEL: dict[str, int] = {"lmstudio": 4, "ollama": 1, "vllm": 16, "openai": 4}


def slot_count(base_url: str, timeout: float = 2.0) -> int | None:
    """llama-server's `total_slots` (GET /props beside /v1), or None when the server says nothing."""
    root = base_url.rstrip("/").removesuffix("/v1")
    try:
        reply = httpx.get(f"{root}/props", timeout=timeout)
        slots = reply.json().get("total_slots") if reply.status_code == 200 else None
    except (httpx.HTTPError, ValueError, AttributeError):
        return None
    return slots if isinstance(slots, int) and slots > 0 else None


def default_parallel(spec: ModelSpec, urls: list[str]) -> int:
    """How many requests an entry sends at once: its `parallel`, else what its servers take."""
    if spec.parallel:
        return spec.parallel
    if spec.provider == "embedded":
        return spec.replicas
    if spec.provider == "llamacpp":
        return sum(slot_count(url) or 1 for url in urls)
    return PROVIDER_PARALLEL[spec.provider] * len(urls)
