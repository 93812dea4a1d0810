"""Servers not installed here, pinned by their replies: what smolopt sends each for the next token's
log-probabilities, and what it reads back.

Each file in tests/recorded/ holds one exchange, from the server's documented format (its source
is named in the file) or recorded from the server itself: the entry (provider, model, top_logprobs),
the prompt or messages, the exact request body smolopt must send, the reply, and the next tokens
smolopt must read from it (null: the server sends no logprobs; {}: the answer ended at once).
"""

from __future__ import annotations

import json
from pathlib import Path

import httpx
import pytest

from smolopt.adapters.label_scorer import EndOfText, next_tokens
from smolopt.backends.client import LocalClient, NotCompletions
from smolopt.errors import BadReply
from smolopt.registry import ModelSpec

RECORDED = sorted((Path(__file__).parent / "recorded").glob("*.json"))


def replaying(spec: ModelSpec, reply, sent: list[dict], status: int = 200, content_type: str = "application/json") -> LocalClient:
    """A client whose every request is answered with `reply` (keeping what was sent)."""
    def answer(request: httpx.Request) -> httpx.Response:
        sent.append(json.loads(request.content))
        body = reply if isinstance(reply, str) else json.dumps(reply)
        return httpx.Response(status, text=body, headers={"Content-Type": content_type})
    client = LocalClient(spec, ["http://recorded.invalid/v1"])
    client._http = httpx.Client(transport=httpx.MockTransport(answer))
    return client


def spec_of(recording: dict) -> ModelSpec:
    return ModelSpec(name="recorded", provider=recording["provider"], model=recording["model"],
                     base_url="http://recorded.invalid/v1", top_logprobs=recording["top_logprobs"])


@pytest.mark.parametrize("path", RECORDED, ids=[p.stem for p in RECORDED])
def test_each_server_is_asked_in_its_dialect_and_its_reply_read(path):
    recording = json.loads(path.read_text())
    sent: list[dict] = []
    client = replaying(spec_of(recording), recording["reply"], sent)
    prompt = recording.get("messages") or recording["prompt"]
    assert client.next_token_logprobs(prompt) == recording["next_tokens"]
    assert sent == [recording["request"]]  # one request, exactly this body


def test_the_recordings_cover_chat_and_completions_of_every_server_and_the_end_of_text_case():
    kinds = {(json.loads(p.read_text())["provider"], "messages" in json.loads(p.read_text())) for p in RECORDED}
    for provider in ("llamacpp", "ollama", "vllm"):
        assert (provider, True) in kinds and (provider, False) in kinds, provider
    assert any(json.loads(p.read_text())["next_tokens"] == {} for p in RECORDED)


def test_an_answer_that_ends_at_once_is_an_end_of_text_for_the_scorer_not_a_server_without_logprobs():
    recording = json.loads((Path(__file__).parent / "recorded" / "ollama_chat_end_of_text.json").read_text())
    client = replaying(spec_of(recording), recording["reply"], [])
    with pytest.raises(EndOfText):
        next_tokens(client, recording["messages"])("")


def test_servers_that_forbid_end_of_text_are_asked_to_and_the_others_are_not():
    bodies = {}
    for provider in ("embedded", "llamacpp", "vllm", "lmstudio", "ollama", "openai"):
        spec = ModelSpec(name="m", provider=provider, base_url="http://h/v1", gguf="x.gguf")
        client = LocalClient(spec, ["http://h/v1"])
        bodies[provider] = client.body({"prompt": "p"}, max_tokens=1, logprobs=True, end_of_text_forbidden=True)
        assert "min_tokens" not in client.body({"prompt": "p"}, max_tokens=1, logprobs=True)
    assert bodies["embedded"]["min_tokens"] == bodies["vllm"]["min_tokens"] == 1
    assert bodies["llamacpp"]["min_tokens"] == 1 and bodies["llamacpp"]["ignore_eos"] is True
    assert all("min_tokens" not in bodies[p] and "ignore_eos" not in bodies[p] for p in ("lmstudio", "ollama", "openai"))


def test_a_server_that_answers_html_fails_the_run_once_most_replies_are_not_completions():
    spec = ModelSpec(name="proxied", provider="llamacpp", base_url="http://recorded.invalid/v1")
    client = replaying(spec, "<html><body>502 Bad Gateway</body></html>", [], content_type="text/html")
    for _ in range(3):  # the first replies are each one example's failure
        with pytest.raises(BadReply):
            client.complete("Hello", max_tokens=4)
    with pytest.raises(NotCompletions) as stopped:
        client.complete("Hello", max_tokens=4)
    assert "'proxied'" in str(stopped.value) and "4 of 4 replies were not completions (HTML: '<html>" in str(stopped.value)
