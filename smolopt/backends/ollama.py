"""Ollama's own API, for what its OpenAI layer does differently: plain text, and the context size.

Ollama applies the model's chat template to a `/v1/completions` prompt (ollama/ollama#5544, closed
as intended; #12636), so a completion format sent there would be a chat turn, and nothing would say
so. Its native `POST /api/generate` with `raw: true` continues the text as it stands. `stream: false`
makes the reply one JSON object; sampling settings go in `options` (temperature, seed, num_predict,
stop). From 0.12.11 (ollama/ollama#12899) it also returns token log-probabilities when asked
(`logprobs: true`, `top_logprobs: N`, N at most 20): per generated token {token, logprob, bytes,
top_logprobs: [{token, logprob, bytes}]}, the shape of an OpenAI chat reply's `logprobs.content`.
An older server ignores both fields and sends no `logprobs`; scoring then falls back to generation
with a notice, as on any server without them. A raw request must carry no `template`, `system` or
`context` (HTTP 400 otherwise), and smolopt sends none.

The context: Ollama loads a model with 2048 tokens (before 0.6.7), 4096 (0.6.7 on), or 4096 to
256k by the GPU's memory (0.15.5 on: 4k below 24 GiB) unless a request's `options.num_ctx` says
otherwise, and cuts a longer prompt from the front without a word: an agent trace with four demos
(~1,800 tokens) loses its instruction before 0.6.7. Every request carries the entry's
`context_length` as `num_ctx`. The OpenAI layer has no way to send it
(docs/api/openai-compatibility.mdx, "Setting the context size"; openai.go's FromChatRequest copies
only stop, max_tokens, temperature, seed, penalties and top_p into options), so chat goes to the
native `POST /api/chat` too: the same chat template, the same `options`, and the same `logprobs` on
its reply.

This module translates one way and back: the OpenAI-shaped /v1/completions and /v1/chat/completions
bodies that LocalClient.body builds into /api/generate and /api/chat bodies, and the native replies
into OpenAI-shaped ones, so the client reads one shape. Shapes from ollama/ollama docs/api.md and
docs/openapi.yaml (GenerateRequest, GenerateResponse, ChatRequest, ChatResponse, Logprob,
TokenLogprob, VersionResponse); recorded in tests/recorded/ollama_*.json.
"""

from __future__ import annotations

import httpx

GENERATE = "api/generate"  # at the server's root, beside the OpenAI layer's /v1
CHAT = "api/chat"
VERSION = "api/version"
LOGPROBS_SINCE = "0.12.11"  # the first release whose /api/generate and /api/chat return logprobs

# What LocalClient.body puts in an OpenAI-shaped body for an Ollama entry, and where it goes.
_OPTIONS = {"max_tokens": "num_predict", "temperature": "temperature", "seed": "seed", "stop": "stop"}


def root(base_url: str) -> str:
    """The server's root, where the native API lives (an entry names the OpenAI layer, ".../v1")."""
    return base_url.rstrip("/").removesuffix("/v1")


def is_native(path: str) -> bool:
    """Whether `path` is on the native API, at the server's root (not under the entry's /v1)."""
    return path in (GENERATE, CHAT)


def native_request(path: str, body: dict, context_length: int) -> tuple[str, dict]:
    """Where and what to ask Ollama for what `body` asks of the OpenAI layer's `path` ("completions"
    or "chat/completions"), with the entry's `context_length` as num_ctx."""
    return (GENERATE, generate_body(body, context_length)) if path == "completions" else (CHAT, chat_body(body, context_length))


def openai_reply(path: str, native: dict) -> dict:
    """A native reply to `path` as the OpenAI-shaped reply the client reads."""
    return completion_reply(native) if path == GENERATE else chat_reply(native)


def generate_body(body: dict, context_length: int) -> dict:
    """The /api/generate request asking what `body` asks of /v1/completions, untemplated."""
    native = {"model": body["model"], "prompt": body["prompt"], "raw": True, **_settings(body, {"prompt", "logprobs"}, context_length)}
    if body.get("logprobs"):  # the client's /v1/completions dialect: logprobs = how many next tokens
        native.update(logprobs=True, top_logprobs=body["logprobs"])
    return native


def chat_body(body: dict, context_length: int) -> dict:
    """The /api/chat request asking what `body` asks of /v1/chat/completions."""
    native = {"model": body["model"], "messages": body["messages"], **_settings(body, {"messages", "logprobs", "top_logprobs"}, context_length)}
    if body.get("logprobs"):  # the chat dialect already is Ollama's: logprobs: true, top_logprobs: N
        native.update(logprobs=True, top_logprobs=body["top_logprobs"])
    return native


def _settings(body: dict, fields: set[str], context_length: int) -> dict:
    """One JSON reply, and the sampling settings and context size in `options`."""
    unknown = set(body) - {"model", *fields, *_OPTIONS}
    if unknown:  # a field added to the client's bodies must be translated here, not dropped
        raise ValueError(f"no Ollama field for {sorted(unknown)}")
    return {"stream": False, "options": {**{option: body[key] for key, option in _OPTIONS.items() if key in body}, "num_ctx": context_length}}


def completion_reply(native: dict) -> dict:
    """An /api/generate reply as an OpenAI-shaped /v1/completions reply; any other shape raises
    (the client says BadReply)."""
    return _reply(native, {"text": _text(native["response"])})


def chat_reply(native: dict) -> dict:
    """An /api/chat reply as an OpenAI-shaped /v1/chat/completions reply; any other shape raises."""
    return _reply(native, {"message": {"role": "assistant", "content": _text(native["message"]["content"])}})


def _text(value: object) -> str:
    """The reply's text, or TypeError (the client says BadReply)."""
    if not isinstance(value, str):
        raise TypeError("the reply's text is not text")
    return value


def _reply(native: dict, choice: dict) -> dict:
    """The OpenAI-shaped reply around `choice`: why it ended, its logprobs, the token counts."""
    choice = {**choice, "finish_reason": native.get("done_reason") or "stop"}
    if isinstance(native.get("logprobs"), list):  # absent: an older server, or no token generated
        choice["logprobs"] = {"content": native["logprobs"]}
    usage = {"prompt_tokens": native.get("prompt_eval_count") or 0, "completion_tokens": native.get("eval_count") or 0}
    return {"choices": [choice], "usage": usage}


def server_version(base_url: str, timeout: float = 2.0) -> str | None:
    """What GET /api/version says ("0.12.11"), or None when the server does not say."""
    try:
        reply = httpx.get(f"{root(base_url)}/{VERSION}", timeout=timeout)
        version = reply.json().get("version") if reply.status_code == 200 else None
    except (httpx.HTTPError, ValueError, AttributeError):
        return None
    return version if isinstance(version, str) and version else None


def gives_no_logprobs(version: str) -> bool:
    """Whether an Ollama of this version is older than its token logprobs ("0.12.10": True)."""
    return _release(version) < _release(LOGPROBS_SINCE)


def _release(version: str) -> tuple[int, ...]:
    """(0, 12, 10) from "0.12.10" or "v0.12.10-rc1"; a version it cannot read counts as new."""
    parts = version.lstrip("v").split("-")[0].split(".")
    return tuple(int(part) for part in parts) if all(part.isdigit() for part in parts) else (10**9,)
