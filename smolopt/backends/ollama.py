"""Ollama's own API, for what its OpenAI layer does differently: plain text.

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

This module translates one way and back: the OpenAI-shaped /v1/completions body that
LocalClient.body builds into an /api/generate body, and the native reply into an OpenAI-shaped
completion, so the client reads one shape. Chat stays on Ollama's /v1/chat/completions.
Shapes from ollama/ollama docs/api.md and docs/openapi.yaml (GenerateRequest, GenerateResponse,
Logprob, TokenLogprob, VersionResponse); recorded in tests/recorded/ollama_generate_*.json.
"""

from __future__ import annotations

import httpx

GENERATE = "api/generate"  # at the server's root, beside the OpenAI layer's /v1
VERSION = "api/version"
LOGPROBS_SINCE = "0.12.11"  # the first release whose /api/generate and /api/chat return logprobs

# What LocalClient.body puts in a /v1/completions body for an Ollama entry, and where it goes.
_OPTIONS = {"max_tokens": "num_predict", "temperature": "temperature", "seed": "seed", "stop": "stop"}


def root(base_url: str) -> str:
    """The server's root, where the native API lives (an entry names the OpenAI layer, ".../v1")."""
    return base_url.rstrip("/").removesuffix("/v1")


def generate_body(body: dict) -> dict:
    """The /api/generate request asking what `body` asks of /v1/completions, untemplated."""
    unknown = set(body) - {"model", "prompt", "logprobs", *_OPTIONS}
    if unknown:  # a field added to the client's bodies must be translated here, not dropped
        raise ValueError(f"no /api/generate field for {sorted(unknown)}")
    native = {
        "model": body["model"],
        "prompt": body["prompt"],
        "raw": True,
        "stream": False,
        "options": {option: body[key] for key, option in _OPTIONS.items() if key in body},
    }
    if body.get("logprobs"):  # the client's /v1/completions dialect: logprobs = how many next tokens
        native.update(logprobs=True, top_logprobs=body["logprobs"])
    return native


def completion_reply(native: dict) -> dict:
    """An /api/generate reply as an OpenAI-shaped /v1/completions reply; any other shape raises
    (the client says BadReply)."""
    text = native["response"]
    if not isinstance(text, str):
        raise TypeError("response is not text")
    choice: dict = {"text": text, "finish_reason": native.get("done_reason") or "stop"}
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
