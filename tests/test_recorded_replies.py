"""Servers not installed here, pinned by their replies: what smolopt sends each for the next token's
log-probabilities, and what it reads back.

Each file in tests/recorded/ holds one exchange, from the server's documented format (its source
is named in the file) or recorded from the server itself: the entry (provider, model, top_logprobs),
the prompt or messages, the path and exact request body smolopt must send, the reply, and the next
tokens smolopt must read from it (null: the server sends no logprobs; {}: the answer ended at once),
or, for a generated answer (`ask`: the call's settings), the text. A file with a `status` holds an
error reply and the request a client gets it for.
"""

from __future__ import annotations

import json
from pathlib import Path

import httpx
import pytest

from smolopt.adapters.label_scorer import EndOfText, next_tokens
from smolopt.backends.client import LocalClient, NotCompletions
from smolopt.errors import BadReply, ContextOverflow, SmoloptError
from smolopt.registry import ModelSpec
from smolopt.server_kinds import KINDS

RECORDED = sorted((Path(__file__).parent / "recorded").glob("*.json"))
EXCHANGES = [path for path in RECORDED if "status" not in json.loads(path.read_text())]


def recorded(name: str) -> dict:
    return json.loads((Path(__file__).parent / "recorded" / f"{name}.json").read_text())


def replaying(spec: ModelSpec, reply, sent: list[dict], status: int = 200, content_type: str = "application/json",
              paths: list[str] | None = None) -> LocalClient:
    """A client whose every request is answered with `reply` (keeping what was sent, and where)."""
    def answer(request: httpx.Request) -> httpx.Response:
        sent.append(json.loads(request.content))
        if paths is not None:
            paths.append(request.url.path)
        body = reply if isinstance(reply, str) else json.dumps(reply)
        return httpx.Response(status, text=body, headers={"Content-Type": content_type})
    client = LocalClient(spec, ["http://recorded.invalid/v1"])
    client._http = httpx.Client(transport=httpx.MockTransport(answer))
    return client


def spec_of(recording: dict) -> ModelSpec:
    context = {"context_length": recording["context_length"]} if "context_length" in recording else {}
    return ModelSpec(name="recorded", provider=recording["provider"], model=recording["model"],
                     base_url="http://recorded.invalid/v1", top_logprobs=recording["top_logprobs"], **context)


@pytest.mark.parametrize("path", EXCHANGES, ids=[p.stem for p in EXCHANGES])
def test_each_server_is_asked_in_its_dialect_and_its_reply_read(path):
    recording = json.loads(path.read_text())
    sent: list[dict] = []
    paths: list[str] = []
    client = replaying(spec_of(recording), recording["reply"], sent, paths=paths)
    prompt = recording.get("messages") or recording["prompt"]
    if "ask" in recording:
        assert client.complete(prompt, **recording["ask"]).text == recording["text"]
    else:
        assert client.next_token_logprobs(prompt) == recording["next_tokens"]
    assert sent == [recording["request"]]  # one request, exactly this body
    assert paths == [recording.get("path") or ("/v1/chat/completions" if "messages" in recording else "/v1/completions")]


def test_the_recordings_cover_chat_and_completions_of_every_server_and_the_end_of_text_case():
    exchanges = [json.loads(p.read_text()) for p in EXCHANGES]
    kinds = {(r["provider"], "messages" in r) for r in exchanges}
    for provider in ("llamacpp", "ollama", "vllm"):
        assert (provider, True) in kinds and (provider, False) in kinds, provider
    assert any(r.get("next_tokens") == {} for r in exchanges)
    generate = [r for r in exchanges if r.get("path") == "/api/generate"]
    assert {"text" in r for r in generate} == {True, False}  # a generated answer, and scored ones
    assert {r.get("next_tokens") is None for r in generate if "text" not in r} == {True, False}  # with logprobs, and an older server


def test_ollama_gets_plain_text_untemplated_and_chat_on_its_own_api_each_with_the_entrys_context():
    for name in ("ollama_generate_raw", "ollama_generate_logprobs", "ollama_generate_no_logprobs", "ollama_chat", "ollama_chat_end_of_text"):
        recording = recorded(name)
        request, chat = recording["request"], "messages" in recording
        assert recording["path"] == ("/api/chat" if chat else "/api/generate"), name  # never the OpenAI layer, which cannot set num_ctx
        assert request["stream"] is False and (chat or request["raw"] is True), name  # one reply; plain text without a chat template
        assert not {"template", "system", "context", "max_tokens", "temperature"} & set(request), name  # sampling goes in options
        assert {"num_predict", "temperature", "seed"} <= set(request["options"]), name
        # the context the entry declares, not Ollama's default (2048 before 0.6.7), which cuts a longer prompt from the front
        assert request["options"]["num_ctx"] == recording["context_length"] != ModelSpec.model_fields["context_length"].default, name
    assert "logprobs" in KINDS["ollama"].offers  # since 0.12.11; an older server falls back with a notice


def test_a_raw_request_with_a_template_is_refused_and_smolopt_sends_none_but_would_stop_saying_why():
    recording = recorded("ollama_generate_raw_with_template")
    assert recording["request"]["raw"] is True and "template" in recording["request"]  # what gets this reply
    sent: list[dict] = []
    client = replaying(spec_of(recording), recording["reply"], sent, status=recording["status"])
    with pytest.raises(SmoloptError) as refused:
        client.next_token_logprobs(recording["prompt"])
    assert not {"template", "system", "context"} & set(sent[0])  # smolopt's own raw request never gets it
    # it would be the server's setup, the same for every request: the run stops with Ollama's words,
    # not an example scored 0 as a prompt too long for the context
    assert not isinstance(refused.value, ContextOverflow)
    assert "HTTP 400" in str(refused.value) and recording["reply"]["error"] in str(refused.value)


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
