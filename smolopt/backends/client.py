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
from smolopt.errors import BadReply, ContextOverflow, ServerDown, SmoloptError
from smolopt.registry import ModelSpec


class LocalClient:
    """Chat and text completions against one OpenAI-compatible endpoint, cached and logged."""

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
        self._disabled: set[str] = set()

    def body(
        self,
        payload: dict,
        *,
        max_tokens: int | None = None,
        temperature: float | None = None,
        stop: list[str] | tuple[str, ...] | None = None,
        logprobs: bool = False,
        min_tokens: int = 0,
    ) -> dict:
        """The request body around `payload` ({"messages": …} or {"prompt": …}).

        A caller may lower max_tokens but never lift it past the entry's cap. `logprobs` asks for
        the entry's `top_logprobs` most likely tokens at each position, in each endpoint's own
        dialect; `min_tokens` forbids end-of-text for that many tokens (llama.cpp and vLLM honour it).
        """
        cap = self.spec.max_tokens
        body = {
            "model": self.spec.model or self.spec.name,
            **payload,
            "max_tokens": min(max_tokens or cap, cap),
            "temperature": self.spec.temperature if temperature is None else temperature,
        }
        stops = list(stop if stop is not None else self.spec.stop)
        if stops:
            body["stop"] = stops
        if self.spec.seed is not None:
            body["seed"] = self.spec.seed
        if logprobs:
            if "messages" in payload:
                body.update(logprobs=True, top_logprobs=self.spec.top_logprobs)
            else:
                body["logprobs"] = self.spec.top_logprobs
        if min_tokens:
            body["min_tokens"] = min_tokens
        return body

    def chat(self, messages: list[dict], **overrides) -> Completion:
        """One chat completion (the server applies the model's chat template)."""
        return self._call("chat/completions", {"messages": messages}, **overrides)

    def complete(self, prompt: str, **overrides) -> Completion:
        """One plain-text completion: the model continues `prompt` as it stands, no chat template."""
        return self._call("completions", {"prompt": prompt}, **overrides)

    def _call(self, path: str, payload: dict, **overrides) -> Completion:
        """From the cache when this exact body was asked before, else over HTTP."""
        body = self.body(payload, **overrides)
        key = request_key(self.spec.name, body)
        if self.cache is not None and (hit := self.cache.get(key)) is not None:
            hit.cached, hit.latency_s = True, 0.0
            self.log.record(self.spec.name, body, hit)
            announce(hit)
            return hit
        try:
            completion = self._post(path, body)
        except SmoloptError as err:
            self.log.record_failure(self.spec.name, body, str(err))
            raise
        if self.cache is not None:
            self.cache.put(key, completion)
        self.log.record(self.spec.name, body, completion)
        announce(completion)
        return completion

    def _post(self, path: str, body: dict) -> Completion:
        """POST with bounded retries (the entry's `retries`, backing off 0.5 s, 1 s, 2 s …) for what a
        restarting or sleeping local server does: refused or dropped connections, time-outs, 5xx."""
        url = f"{self.base_url}/{path}"
        where = f"model '{self.spec.name}' at {self.base_url}"
        last = ""
        for attempt in range(self.spec.retries + 1):
            if attempt:
                time.sleep(min(0.5 * 2 ** (attempt - 1), 8.0))
            start = time.perf_counter()
            try:
                response = self._http.post(url, json=body)
            except httpx.TimeoutException:
                last = f"no answer within {self.spec.timeout:g}s"
                continue
            except httpx.TransportError as err:  # refused, dropped, reset
                last = f"{type(err).__name__}: {err}" if str(err) else type(err).__name__
                continue
            detail = response.text.strip().replace("\n", " ")[:200]
            if response.status_code >= 500:
                last = f"HTTP {response.status_code}: {detail}"
                continue
            if response.status_code >= 400:
                error = ContextOverflow if response.status_code == 400 and "context" in detail.lower() else SmoloptError
                raise error(f"{where} answered HTTP {response.status_code}: {detail}")
            try:
                return _completion(response.json(), time.perf_counter() - start, self.spec.name)
            except (ValueError, TypeError, AttributeError, IndexError, KeyError):
                raise BadReply(f"{where} answered HTTP {response.status_code} without a completion: {detail[:80]!r}") from None
        raise ServerDown(f"{where} failed {self.spec.retries + 1} times ({last})")

    def can(self, capability: str) -> bool:
        """Whether the entry's server offers `capability` ("chat", "completions", "logprobs")."""
        return capability not in self._disabled and self.spec.can(capability)  # type: ignore[arg-type]

    def disable(self, capability: str) -> None:
        """The server turned out not to offer `capability` after all: stop asking for it this run."""
        self._disabled.add(capability)

    def notice(self, text: str) -> None:
        """Tell the run's user once (the call log keeps notices for the report)."""
        self.log.notice(f"{self.spec.name}: {text}")

    def close(self) -> None:
        self._http.close()


def _top_logprobs(logprobs: dict | None) -> list[dict[str, float]] | None:
    """Per generated token, {token: logprob} of its most likely alternatives; None when none were sent.

    /v1/completions gives `top_logprobs` as a list of dicts; chat gives `content` entries that
    each hold a `top_logprobs` list. An answer of no tokens (end-of-text first) gives [].
    """
    if not isinstance(logprobs, dict):
        return None
    if isinstance(logprobs.get("content"), list):
        return [
            {str(alt.get("token")): float(alt.get("logprob")) for alt in entry.get("top_logprobs") or []}
            for entry in logprobs["content"]
        ]
    if isinstance(logprobs.get("top_logprobs"), list):
        return [{str(k): float(v) for k, v in (entry or {}).items()} for entry in logprobs["top_logprobs"]]
    return None


def _completion(payload: dict, latency: float, model: str) -> Completion:
    """The first choice of an OpenAI-shaped reply; any other shape raises (the caller says BadReply)."""
    choice = payload["choices"][0]
    if not isinstance(choice, dict):
        raise TypeError("choices[0] is not an object")
    usage = payload.get("usage") or {}
    message = choice.get("message")
    return Completion(
        text=(message.get("content") if message is not None else choice.get("text")) or "",
        top_logprobs=_top_logprobs(choice.get("logprobs")),
        finish_reason=choice.get("finish_reason") or "stop",
        prompt_tokens=int(usage.get("prompt_tokens") or 0),
        completion_tokens=int(usage.get("completion_tokens") or 0),
        latency_s=latency,
        model=model,
    )
