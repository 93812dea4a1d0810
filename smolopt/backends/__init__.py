"""Connections to the models of one run: start embedded servers, check endpoints, hand out clients.

Every caller (student, reflection, judge, probe) gets its LocalClient here, so all of them share
the run's call log and cache and no call can bypass the raw path.
"""

from __future__ import annotations

import dspy

from smolopt.backends.calls import CallCache, CallLog
from smolopt.backends.client import LocalClient
from smolopt.backends.embedded import EmbeddedServer, is_serving
from smolopt.backends.engine import as_dspy_lm
from smolopt.errors import SmoloptError
from smolopt.registry import ModelSpec, Registry

__all__ = ["Models", "LocalClient", "CallLog", "CallCache", "as_dspy_lm"]


class Models:
    """The open model connections of a run; a context manager that stops what it started."""

    def __init__(self, registry: Registry, log: CallLog | None = None, cache: CallCache | None = None):
        self.registry = registry
        self.log = log or CallLog()
        self.cache = cache
        self._clients: dict[str, LocalClient] = {}
        self._servers: list[EmbeddedServer] = []

    def client(self, name: str | None) -> LocalClient:
        spec = self.registry.get(name)
        if spec.name not in self._clients:
            self._clients[spec.name] = LocalClient(spec, self._endpoint(spec), log=self.log, cache=self.cache)
        return self._clients[spec.name]

    def lm(self, name: str | None) -> dspy.LM:
        return as_dspy_lm(self.client(name))

    def _endpoint(self, spec: ModelSpec) -> str:
        if spec.provider == "embedded":
            server = EmbeddedServer(spec)
            self._servers.append(server)
            return server.start()
        spec.api_key()  # a missing key is reported before any request is made
        base_url = spec.base_url.rstrip("/")
        if not is_serving(base_url, timeout=min(spec.timeout, 5.0)):
            raise SmoloptError(f"model '{spec.name}' ({spec.provider}) is not reachable at {base_url}")
        return base_url

    def close(self) -> None:
        for client in self._clients.values():
            client.close()
        for server in self._servers:
            server.stop()
        self._clients.clear()
        self._servers.clear()

    def __enter__(self) -> Models:
        return self

    def __exit__(self, *exc) -> None:
        self.close()
