"""LocalClient: the one raw HTTP path every model call in smolopt takes.

Why not dspy's default `openai/` route: it sends `max_completion_tokens`, which llama-cpp-python's
server ignores (a 135M model then runs on for thousands of tokens), Ollama's OpenAI layer forces
temperature 1.0 when none is sent, and DSPy's JSON path adds `response_format`, which LM Studio
rejects. Here the body is built in one place: `max_tokens` and `temperature` always, and
`response_format` never.
"""

from __future__ import annotations

import time

import httpx

from smolopt.backends.calls import CallCache, CallLog, Completion, announce, request_key
from smolopt.errors import ContextOverflow, SmoloptError
from smolopt.registry import ModelSpec


class LocalClient:
    """Chat completions against one OpenAI-compatible endpoint, cached and logged."""

    def __init__(
        self,
        spec: ModelSpec,
        base_url: str,
        *,
        log: CallLog | None = None,
        cache: CallCache | None = None,
    ):
        self.spec = spec
        self.base_url = base_url.rstrip("/")
        self.log = log or CallLog()
        self.cache = cache
        headers = {}
        if key := spec.api_key():
            headers["Authorization"] = f"Bearer {key}"
        self._http = httpx.Client(headers=headers, timeout=spec.timeout)

    def body(
        self,
        messages: list[dict],
        *,
        max_tokens: int | None = None,
        temperature: float | None = None,
        stop: list[str] | tuple[str, ...] | None = None,
    ) -> dict:
        """The request body. A caller may lower max_tokens but never lift it past the entry's cap."""
        cap = self.spec.max_tokens
        body = {
            "model": self.spec.model or self.spec.name,
            "messages": messages,
            "max_tokens": min(max_tokens or cap, cap),
            "temperature": self.spec.temperature if temperature is None else temperature,
        }
        stops = list(stop if stop is not None else self.spec.stop)
        if stops:
            body["stop"] = stops
        if self.spec.seed is not None:
            body["seed"] = self.spec.seed
        return body

    def chat(self, messages: list[dict], **overrides) -> Completion:
        """One completion: from the cache when this exact body was asked before, else over HTTP."""
        body = self.body(messages, **overrides)
        key = request_key(self.spec.name, body)
        if self.cache is not None and (hit := self.cache.get(key)) is not None:
            hit.cached, hit.latency_s = True, 0.0
            self.log.record(self.spec.name, body, hit)
            announce(hit)
            return hit
        completion = self._post(body)
        if self.cache is not None:
            self.cache.put(key, completion)
        self.log.record(self.spec.name, body, completion)
        announce(completion)
        return completion

    def _post(self, body: dict) -> Completion:
        url = f"{self.base_url}/chat/completions"
        last: Exception | None = None
        for attempt in range(self.spec.retries + 1):
            start = time.perf_counter()
            try:
                response = self._http.post(url, json=body)
            except (httpx.ConnectError, httpx.RemoteProtocolError, httpx.ReadError) as err:
                last = err
                time.sleep(min(0.5 * 2**attempt, 4.0))
                continue
            except httpx.TimeoutException:
                raise SmoloptError(
                    f"model '{self.spec.name}' at {self.base_url} did not answer within {self.spec.timeout:g}s"
                ) from None
            latency = time.perf_counter() - start
            if response.status_code >= 400:
                detail = response.text.strip().replace("\n", " ")[:200]
                error = ContextOverflow if response.status_code == 400 and "context" in detail.lower() else SmoloptError
                raise error(
                    f"model '{self.spec.name}' at {self.base_url} answered HTTP {response.status_code}: {detail}"
                )
            return _completion(response.json(), latency, self.spec.name)
        raise SmoloptError(f"model '{self.spec.name}' at {self.base_url} is not reachable: {last}")

    def close(self) -> None:
        self._http.close()


def _completion(payload: dict, latency: float, model: str) -> Completion:
    choice = (payload.get("choices") or [{}])[0]
    usage = payload.get("usage") or {}
    return Completion(
        text=(choice.get("message") or {}).get("content") or "",
        finish_reason=choice.get("finish_reason") or "stop",
        prompt_tokens=int(usage.get("prompt_tokens") or 0),
        completion_tokens=int(usage.get("completion_tokens") or 0),
        latency_s=latency,
        model=model,
    )
