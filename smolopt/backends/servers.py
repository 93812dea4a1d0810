"""How many requests an entry's servers take at once (its kind's record in smolopt.server_kinds
says how to find out: a number, its replicas, or llama-server's slots)."""

from __future__ import annotations

import httpx

from smolopt.registry import ModelSpec


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
    if spec.kind.parallel == "replicas":
        return spec.replicas
    if spec.kind.parallel == "slots":
        return sum(slot_count(url) or 1 for url in urls)
    return spec.kind.parallel * len(urls)
