"""LocalClient: the one raw HTTP path every model call in smolopt takes.

Why not dspy's default `openai/` route: it sends `max_completion_tokens`, which llama-cpp-python's
server ignores (a 135M model then runs on for thousands of tokens), Ollama's OpenAI layer forces
temperature 1.0 when none is sent, and DSPy's JSON path adds `response_format`, which LM Studio
rejects. Here the body is built in one place: `max_tokens` and `temperature` always, and
`response_format` never.

The client is safe to share between threads: up to `parallel` requests go out at once, each to
the least busy of the entry's replicas.
"""

from __future__ import annotations

import re
import threading
import time

import httpx

from smolopt.backends import ollama
from smolopt.backends.calls import CallCache, CallLog, Completion, announce, request_key
from smolopt.backends.embedded import is_serving
from smolopt.backends.replicas import Replicas
from smolopt.errors import BadReply, ContextOverflow, ServerDown, SmoloptError
from smolopt.registry import ModelSpec

# A run stops once more than half of an entry's replies were not completions, judged from this
# many replies on: a server answering HTML (a proxy's error page, a web UI at the wrong path) would
# otherwise be scored as a model that is always wrong ("accuracy 0.0%").
JUDGED_AFTER = 4

# An HTTP 400 that says the prompt is longer than the model's context, in each server's words:
# "maximum context length" (llama-cpp-python's server, vLLM, OpenAI), "available context size"
# (llama-server), "exceeds the context length" (Ollama). Not Ollama's "raw mode does not support
# template, system, or context", which every request of the run would get alike.
OVERFLOW = re.compile(r"context (window|size|length)", re.IGNORECASE)


class NotCompletions(ServerDown):
    """Most of a server's replies were not completions: the run stops instead of scoring them 0."""


class LocalClient:
    """Chat and text completions against one model's OpenAI-compatible endpoints, cached and logged."""

    def __init__(
        self,
        spec: ModelSpec,
        base_urls: list[str],
        *,
        log: CallLog | None = None,
        cache: CallCache | None = None,
        parallel: int = 1,
    ):
        self.spec = spec
        self.replicas = Replicas(base_urls)
        self.parallel = parallel
        self.log = log or CallLog()
        self.cache = cache
        headers = {}
        if key := spec.api_key():
            headers["Authorization"] = f"Bearer {key}"
        self._http = httpx.Client(headers=headers, timeout=spec.timeout, limits=httpx.Limits(max_connections=max(parallel, 10)))
        self._disabled: set[str] = set()
        self._replies = 0
        self._bad: list[str] = []  # what came back instead of each completion
        self._count_lock = threading.Lock()
        self._closed = False

    @property
    def name(self) -> str:
        """The registry entry this client talks to."""
        return self.spec.name

    def body(
        self,
        payload: dict,
        *,
        max_tokens: int | None = None,
        temperature: float | None = None,
        stop: list[str] | tuple[str, ...] | None = None,
        logprobs: bool = False,
        end_of_text_forbidden: bool = False,
    ) -> dict:
        """The request body around `payload` ({"messages": …} or {"prompt": …}).

        A caller may lower max_tokens but never lift it past the entry's cap. `logprobs` asks for
        the entry's `top_logprobs` most likely tokens at each position, in each endpoint's own
        dialect; `end_of_text_forbidden` adds the fields by which the entry's server keeps the first
        token from ending the answer (smolopt.backends.servers), where it has any.
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
        if end_of_text_forbidden:
            body.update(self.spec.kind.end_of_text_forbidden)
        return body

    def chat(self, messages: list[dict], **overrides) -> Completion:
        """One chat completion (the server applies the model's chat template)."""
        return self._call("chat/completions", {"messages": messages}, **overrides)

    def complete(self, prompt: str, **overrides) -> Completion:
        """One plain-text completion: the model continues `prompt` as it stands, no chat template."""
        return self._call("completions", {"prompt": prompt}, **overrides)

    def next_token_logprobs(self, prompt: str | list[dict]) -> dict[str, float] | None:
        """{token: log-probability} of the most likely first tokens after `prompt` (completion text,
        or chat messages, whose reply it begins), in one request.

        None when the server sends no token logprobs; {} when the model ended its answer at once
        and the server listed nothing (a server with no way to forbid that, see servers.py).
        """
        asked = dict(max_tokens=1, temperature=0.0, logprobs=True, end_of_text_forbidden=True)
        reply = self.chat(prompt, **asked) if isinstance(prompt, list) else self.complete(prompt, **asked)
        if reply.top_logprobs is None:
            # Ollama leaves `logprobs` out of a reply without tokens: silence, not a missing feature.
            return {} if not reply.text else None
        return dict(reply.top_logprobs[0]) if reply.top_logprobs else {}

    def _call(self, path: str, payload: dict, **overrides) -> Completion:
        """From the cache when this exact body was asked before, else over HTTP."""
        body = self.body(payload, **overrides)
        if self.spec.kind.native_api == "ollama":  # its /v1/completions applies the chat template; its /v1 cannot set num_ctx
            path, body = ollama.native_request(path, body, self.spec.context_length)
        key = request_key(self.spec.name, body)
        if self.cache is not None and (hit := self.cache.get(key)) is not None:
            hit.cached = True  # its latency_s stays the seconds the server took when it answered
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
        restarting or sleeping local server does: refused or dropped connections, time-outs, 5xx.
        A replica that fails and no longer answers at all is dropped, and the request goes to
        another without counting as a retry."""
        failures, last, base = 0, "", self.replicas.urls[0]
        while failures <= self.spec.retries:
            if failures:
                time.sleep(min(0.5 * 2 ** (failures - 1), 8.0))
            if self._closed:
                raise ServerDown(f"model '{self.spec.name}': the run is stopping ({last or 'request not sent'})")
            with self.replicas.lease() as base:
                outcome = self._send(base, path, body)
            if isinstance(outcome, Completion):
                return outcome
            last = outcome
            if not self._drop_if_dead(base):
                failures += 1
        raise ServerDown(f"model '{self.spec.name}' at {base} failed {self.spec.retries + 1} times ({last})")

    def _send(self, base: str, path: str, body: dict) -> Completion | str:
        """One POST to one replica: its completion, or why it may be worth another try."""
        where = f"model '{self.spec.name}' at {base}"
        start = time.perf_counter()
        try:
            response = self._http.post(f"{ollama.root(base)}/{path}" if ollama.is_native(path) else f"{base}/{path}", json=body)
        except httpx.TimeoutException:
            return f"no answer within {self.spec.timeout:g}s"
        except httpx.TransportError as err:  # refused, dropped, reset
            return f"{type(err).__name__}: {err}" if str(err) else type(err).__name__
        detail = response.text.strip().replace("\n", " ")[:200]
        if response.status_code >= 500:
            return f"HTTP {response.status_code}: {detail}"
        if response.status_code >= 400:
            error = ContextOverflow if response.status_code == 400 and OVERFLOW.search(detail) else SmoloptError
            raise error(f"{where} answered HTTP {response.status_code}: {detail}")
        try:
            payload = ollama.openai_reply(path, response.json()) if ollama.is_native(path) else response.json()
            completion = _completion(payload, time.perf_counter() - start, self.spec.name)
        except (ValueError, TypeError, AttributeError, IndexError, KeyError):
            self._count_reply(base, _what_came(response.text))
            raise BadReply(f"{where} answered HTTP {response.status_code} without a completion: {detail[:80]!r}") from None
        self._count_reply(base, None)
        return completion

    def _count_reply(self, base: str, bad: str | None) -> None:
        """Count one reply; raise NotCompletions once more than half of them were not completions."""
        with self._count_lock:
            self._replies += 1
            if bad is not None:
                self._bad.append(bad)
            failed, replies = len(self._bad), self._replies
        if bad is not None and replies >= JUDGED_AFTER and 2 * failed > replies:
            raise NotCompletions(f"model '{self.spec.name}' at {base}: {failed} of {replies} replies were not completions "
                                 f"({self._bad[-1]}); is base_url the server's OpenAI-compatible /v1 address?")

    def _drop_if_dead(self, base: str) -> bool:
        """Whether `base` was dropped: it failed, answers nothing any more, and others are left."""
        if len(self.replicas) < 2 or is_serving(base, timeout=1.0, api_key=self.spec.api_key()) or not self.replicas.drop(base):
            return False
        self.notice(f"replica {base} stopped answering and was dropped; its requests went to the others")
        return True

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
        """Stop: requests still retrying give up, and the connections are closed."""
        self._closed = True
        self._http.close()


def _what_came(text: str) -> str:
    """A reply that is not a completion, in a few words and its opening characters."""
    shown = text.strip().replace("\n", " ")
    kind = "HTML" if shown[:1] == "<" else "an empty body" if not shown else "JSON of another shape" if shown[:1] in "{[" else "text"
    return f"{kind}: {shown[:60]!r}" if shown else kind


def _top_logprobs(logprobs: dict | None) -> list[dict[str, float]] | None:
    """Per generated token, {token: logprob} of its most likely alternatives; None when none were sent.

    Two shapes (see tests/recorded/): `content`, a list of entries each holding a `top_logprobs`
    list of {token, logprob} (chat everywhere; llama-server's /v1/completions and Ollama's /api/generate too), or
    `top_logprobs`, a list of {token: logprob} dicts (/v1/completions of llama-cpp-python, vLLM and
    OpenAI). An answer of no tokens (end-of-text first) gives [].
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
