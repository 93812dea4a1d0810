"""A stand-in for a hosted chat model as the reflector: the OpenAI chat completions API on loopback,
answering each reflection prompt from a script.

Every optimize run in the tests otherwise reflects with no model or with the 135M, whose proposals
are garbage; the path the source articles rely on, a capable hosted model rewriting the
instruction, needs replies of the shapes such a model sends. The stand-in plays four:

    rewrite    the new instruction in a ``` block, with prose before and after it
    refusal    "I'm sorry, I can't help with that."
    truncated  a block cut off by the token limit (it never closes; finish_reason "length")
    prose      a comment on the task, no block

It behaves as a hosted API does where smolopt could trip: every request, GET /v1/models included,
needs the bearer key (HTTP 401 without it), and a body field the API does not know is HTTP 400.
It keeps every request body, so a test can check that none carried `response_format`, and the
current instruction each reflection prompt showed it. A request that is not a reflection prompt
(no ``` block holding the current instruction, as smolopt's and GEPA's templates both open with)
is HTTP 400: the stand-in answers nothing it was not scripted for.
"""

from __future__ import annotations

import json
import re
import threading
import time
from dataclasses import dataclass
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer

from conftest import send_reply

MODEL = "standin-reflector-1"
KEY_ENV = "SMOLOPT_TEST_STANDIN_KEY"  # the registry entry's api_key_env (tests/conftest.py)
KEY = "sk-standin-not-a-secret"

# A rewrite a capable model gives for sentiment: the three labels, a mechanical cue for each, one word.
REWRITE = ("Read the text and decide how its writer feels. Praise, thanks or delight is positive; "
           "complaints, disappointment or anger is negative; a plain statement of fact is neutral. "
           "Answer with one word: positive, negative or neutral.")


@dataclass(frozen=True)
class Reply:
    """What the stand-in answers: the message's content and the choice's finish_reason."""

    content: str
    finish_reason: str = "stop"


REPLIES = {
    "rewrite": Reply("The model calls most texts positive, and it cannot tell a plain fact from a complaint. "
                     "A rule it can check word by word should help. Here is a revised instruction:\n\n"
                     f"```\n{REWRITE}\n```\n\n"
                     "It names all three labels and asks for a single word, which a small model can follow."),
    "refusal": Reply("I'm sorry, I can't help with that."),
    "truncated": Reply(f"Here is a revised instruction that names the three labels:\n\n```\n{REWRITE[:90]}", "length"),
    "prose": Reply("The model answers positive for most texts. It would do better if it looked for words of praise "
                   "or complaint first, and treated plain statements of fact as neutral."),
}

# The body fields OpenAI's chat completions API takes; any other is HTTP 400, as there.
KNOWN_FIELDS = {
    "model", "messages", "max_tokens", "max_completion_tokens", "temperature", "top_p", "n", "stream",
    "stream_options", "stop", "presence_penalty", "frequency_penalty", "logit_bias", "logprobs", "top_logprobs",
    "user", "seed", "response_format", "tools", "tool_choice", "parallel_tool_calls", "service_tier", "store",
    "metadata", "modalities", "audio", "prediction", "reasoning_effort",
}
_FIRST_BLOCK = re.compile(r"```\n(.*?)\n```", re.DOTALL)


def _error(message: str, kind: str = "invalid_request_error", code: str | None = None) -> bytes:
    return json.dumps({"error": {"message": message, "type": kind, "param": None, "code": code}}).encode()


class ReflectorStandin:
    """The stand-in server: `play` sets the script, `bodies`, `shown` and `played` say what happened."""

    def __init__(self, key: str = KEY):
        self.key = key
        self.bodies: list[dict] = []  # every POST body, as it came
        self.shown: list[str] = []  # the current instruction each reflection prompt carried
        self.played: list[str] = []  # the name of each reply sent, in order
        self._script: tuple[str, ...] = ("rewrite",)
        self._lock = threading.Lock()
        standin = self

        class Handler(BaseHTTPRequestHandler):
            def log_message(self, *args):
                pass

            def do_GET(self):
                status, content = standin._get(self.path, self.headers.get("Authorization"))
                send_reply(self, status, content)

            def do_POST(self):
                length = int(self.headers.get("Content-Length") or 0)
                raw = self.rfile.read(length) if length else b""
                status, content = standin._post(self.path, self.headers.get("Authorization"), raw)
                send_reply(self, status, content)

        self.server = ThreadingHTTPServer(("127.0.0.1", 0), Handler)
        self.base_url = f"http://127.0.0.1:{self.server.server_address[1]}/v1"
        threading.Thread(target=self.server.serve_forever, daemon=True).start()

    def play(self, *names: str) -> None:
        """Answer the coming reflection prompts with these replies (REPLIES' names), in this order,
        starting over after the last; forget what earlier tests sent."""
        unknown = [name for name in names if name not in REPLIES]
        assert names and not unknown, f"replies are named {sorted(REPLIES)}, not {unknown or 'nothing'}"
        with self._lock:
            self._script = names
            self.bodies, self.shown, self.played = [], [], []

    def close(self) -> None:
        self.server.shutdown()

    def _authorized(self, header: str | None) -> bool:
        return header == f"Bearer {self.key}"

    def _get(self, path: str, auth: str | None) -> tuple[int, bytes]:
        if not self._authorized(auth):
            return 401, _error("Incorrect API key provided.", code="invalid_api_key")
        if path.rstrip("/") != "/v1/models":
            return 404, _error(f"Unknown request URL: GET {path}.")
        return 200, json.dumps({"object": "list", "data": [{"id": MODEL, "object": "model", "created": 0, "owned_by": "tests"}]}).encode()

    def _post(self, path: str, auth: str | None, raw: bytes) -> tuple[int, bytes]:
        if not self._authorized(auth):
            return 401, _error("Incorrect API key provided.", code="invalid_api_key")
        if path.rstrip("/") != "/v1/chat/completions":
            return 404, _error(f"Unknown request URL: POST {path}.")
        body = json.loads(raw)
        with self._lock:
            self.bodies.append(body)
        if unknown := sorted(set(body) - KNOWN_FIELDS):
            return 400, _error(f"Unrecognized request argument supplied: {', '.join(unknown)}")
        prompt = next((m.get("content") for m in body.get("messages", []) if m.get("role") == "user"), None)
        shown = _FIRST_BLOCK.search(prompt) if isinstance(prompt, str) else None
        if shown is None:
            return 400, _error("the stand-in answers reflection prompts only (a user message with the current instruction in a ``` block)")
        with self._lock:
            name = self._script[len(self.played) % len(self._script)]
            self.shown.append(shown.group(1))
            self.played.append(name)
        reply = REPLIES[name]
        used = body.get("max_tokens") if reply.finish_reason == "length" else len(reply.content) // 4
        return 200, json.dumps({
            "id": f"chatcmpl-standin-{len(self.played)}",
            "object": "chat.completion",
            "created": int(time.time()),
            "model": MODEL,
            "choices": [{"index": 0, "message": {"role": "assistant", "content": reply.content, "refusal": None},
                         "logprobs": None, "finish_reason": reply.finish_reason}],
            "usage": {"prompt_tokens": len(prompt) // 4, "completion_tokens": used, "total_tokens": len(prompt) // 4 + used},
        }).encode()
