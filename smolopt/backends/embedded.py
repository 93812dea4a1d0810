"""The embedded default: a GGUF served by llama-cpp-python's OpenAI-compatible server on loopback.

smolopt starts `python -m llama_cpp.server` on a free 127.0.0.1 port, waits until it answers, and
stops it on exit. An entry with a fixed `port` reuses a server already answering there, so several
commands (or a test session) can share one warm model.

The server dies with smolopt however smolopt ends: a stop signal stops it through the CLI's
handler, and on Linux the kernel kills it when smolopt itself is killed (a parent-death signal),
so no model keeps a core busy after the command is gone. It runs in its own session, so a
terminal's Ctrl-C or hang-up reaches smolopt, which then stops it in order. Its log is removed
when it stops, and kept (and named in the error) only when it failed to start.
"""

from __future__ import annotations

import atexit
import ctypes
import os
import signal
import socket
import subprocess
import sys
import tempfile
import time
from pathlib import Path

import httpx

from smolopt.backends.weights import resolve_gguf
from smolopt.backends.lora import check_adapter_for
from smolopt.errors import SmoloptError
from smolopt.registry import ModelSpec

START_TIMEOUT_S = 120.0
PR_SET_PDEATHSIG = 1  # linux/prctl.h


def served_models(base_url: str, timeout: float = 2.0, api_key: str | None = None) -> list[str] | None:
    """The model ids an OpenAI-compatible server lists at GET /models, or None when it does not answer.
    Hosted APIs answer /models only with the key (OpenAI: HTTP 401 without it)."""
    headers = {"Authorization": f"Bearer {api_key}"} if api_key else None
    try:
        reply = httpx.get(f"{base_url}/models", timeout=timeout, headers=headers)
    except httpx.HTTPError:
        return None
    if reply.status_code != 200:
        return None
    try:
        return [str(entry.get("id")) for entry in reply.json().get("data", [])]
    except (ValueError, AttributeError):
        return []


def is_serving(base_url: str, timeout: float = 2.0, api_key: str | None = None) -> bool:
    return served_models(base_url, timeout, api_key) is not None


def free_port() -> int:
    with socket.socket() as sock:
        sock.bind(("127.0.0.1", 0))
        return sock.getsockname()[1]


def usable_cores() -> int:
    """Cores this process may run on (its CPU affinity, where the system says)."""
    return len(os.sched_getaffinity(0)) if hasattr(os, "sched_getaffinity") else os.cpu_count() or 1


def default_threads(spec: ModelSpec) -> tuple[int, int]:
    """(generation threads, prompt threads) of each replica: the entry's, or half the cores shared
    among the replicas, for both.

    llama.cpp's threads wait for each other at every step, spinning; when a neighbour holds one of
    the cores, every step waits for the thread that lost its core. Measured on 2 cores (48 sentiment
    examples, scored and calibrated): quiet, 1 + 1 thread took 14.2 s, 1 + 2 11.7 s, 2 + 2 12.5 s;
    beside one busy loop, 1 + 1 took 13.4 s, 1 + 2 55.9 s and 2 + 2 50.6 s, with single calls of
    3 to 8 s (40 times the median). A little speed when quiet buys steadiness under load.
    """
    share = max(1, usable_cores() // (2 * spec.replicas))
    return spec.threads or share, spec.batch_threads or share


def _die_with_parent(parent: int):
    """A preexec_fn: the kernel kills the server when the thread that started it is gone (smolopt
    killed, even with SIGKILL). Servers are started on the thread that opens the run's models, which
    outlives them; evaluation workers never start one. prctl is looked up before the fork."""
    prctl = ctypes.CDLL(None, use_errno=True).prctl if sys.platform.startswith("linux") else None

    def arm() -> None:
        if prctl is not None:
            prctl(PR_SET_PDEATHSIG, signal.SIGKILL)
            if os.getppid() != parent:  # smolopt died before the signal was armed
                os._exit(1)
    return arm


class EmbeddedServer:
    """One llama.cpp server process for one embedded ModelSpec (replica `replica` of its `replicas`)."""

    def __init__(self, spec: ModelSpec, replica: int = 0):
        self.spec = spec
        self.replica = replica
        self.process: subprocess.Popen | None = None
        self.base_url = ""
        self._log: Path | None = None

    def start(self) -> str:
        """Start (or reuse) the server and return its base URL once it answers."""
        self.launch()
        return self.ready()

    def launch(self) -> None:
        """Start the server process (none when a server already answers on the entry's fixed port);
        replicas are launched together and then waited for (start_replicas), so they load side by side."""
        port = self.spec.port + self.replica if self.spec.port else free_port()
        self.base_url = f"http://127.0.0.1:{port}/v1"
        if self.spec.port and is_serving(self.base_url):
            return
        gguf = resolve_gguf(self.spec)
        threads, batch_threads = default_threads(self.spec)
        command = [
            sys.executable, "-m", "llama_cpp.server",
            "--model", str(gguf),
            "--model_alias", self.spec.name,
            "--host", "127.0.0.1",
            "--port", str(port),
            "--n_ctx", str(self.spec.context_length),
            "--n_threads", str(threads),
            "--n_threads_batch", str(batch_threads),
        ]
        if self.spec.lora:
            check_adapter_for(self.spec.lora, gguf, self.spec.name)  # never an adapter on a base it was not tuned on
            command += ["--lora_path", str(Path(self.spec.lora).expanduser())]
        with tempfile.NamedTemporaryFile(prefix="smolopt-llama-", suffix=".log", delete=False) as log:
            self._log = Path(log.name)
            self.process = subprocess.Popen(command, stdout=log, stderr=subprocess.STDOUT, start_new_session=True,
                                            preexec_fn=_die_with_parent(os.getpid()))
        atexit.register(self.stop)

    def ready(self) -> str:
        """The base URL once the launched server answers (a reused one already does)."""
        if self.process is None:
            return self.base_url
        deadline = time.monotonic() + START_TIMEOUT_S
        while time.monotonic() < deadline:
            if self.process.poll() is not None:
                tail = self._log.read_text(errors="replace").strip().splitlines()[-1:] or ["(no output)"]
                self.process, kept = None, self._log
                self._log = None
                raise SmoloptError(f"embedded server for '{self.spec.name}' exited: {tail[0]} (log: {kept})")
            if is_serving(self.base_url, timeout=1.0):
                return self.base_url
            time.sleep(0.3)
        kept, self._log = self._log, None
        self.stop()
        raise SmoloptError(f"embedded server for '{self.spec.name}' did not start within {START_TIMEOUT_S:g}s (log: {kept})")

    def stop(self) -> None:
        if self.process is not None and self.process.poll() is None:
            self.process.terminate()
            try:
                self.process.wait(timeout=10)
            except subprocess.TimeoutExpired:
                self.process.kill()
                self.process.wait()
        self.process = None
        if self._log is not None:
            self._log.unlink(missing_ok=True)
            self._log = None


def start_replicas(spec: ModelSpec) -> list[EmbeddedServer]:
    """The entry's `replicas` servers, started (or reused) and answering. They are launched together
    and then waited for, so they load side by side; if one fails, those started here are stopped."""
    servers = [EmbeddedServer(spec, replica) for replica in range(spec.replicas)]
    try:
        for server in servers:
            server.launch()
        for server in servers:
            server.ready()
    except BaseException:  # Ctrl-C during the wait too: no half-started entry keeps its servers
        for server in servers:
            server.stop()
        raise
    return servers
