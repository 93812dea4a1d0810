"""Connections to the models of one run: start embedded servers, check endpoints, hand out clients.

Every caller (student, reflection, judge, probe) gets its LocalClient here, so all of them share
the run's call log and cache and no call can bypass the raw path. An entry's client spreads its
requests over the entry's servers (`replicas` embedded ones, or its `base_urls`) and takes
`parallel` at once (smolopt.backends.servers.default_parallel).
"""

from __future__ import annotations

from pathlib import Path

from smolopt.backends.calls import CallCache, CallLog
from smolopt.backends.client import LocalClient
from smolopt.backends.embedded import EmbeddedServer, is_serving, start_replicas
from smolopt.backends.engine import SmoloptLM, as_dspy_lm
from smolopt.backends.servers import default_parallel
from smolopt.backends.weights import with_gguf_facts
from smolopt.errors import SmoloptError
from smolopt.registry import ModelSpec, Registry, with_adapter

__all__ = ["Models", "LocalClient", "CallLog", "CallCache", "SmoloptLM", "as_dspy_lm"]


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
            spec = with_gguf_facts(spec)  # an embedded model's chat template, where the entry does not say
            urls = self._endpoints(spec)
            self._clients[spec.name] = LocalClient(spec, urls, log=self.log, cache=self.cache, parallel=default_parallel(spec, urls))
        return self._clients[spec.name]

    def lm(self, name: str | None) -> SmoloptLM:
        return as_dspy_lm(self.client(name))

    def with_adapter(self, name: str | None, adapter: str | Path) -> str:
        """Add to this run's registry an entry serving `name` with a LoRA adapter (see
        smolopt.registry.with_adapter), so `lm` of it starts that server; returns the entry's name."""
        self.registry, tuned = with_adapter(self.registry, name, adapter)
        return tuned

    def _endpoints(self, spec: ModelSpec) -> list[str]:
        """The entry's live endpoints: its embedded servers, started here, or its URLs that answer."""
        if spec.started_here:
            servers = start_replicas(spec)
            self._servers.extend(servers)
            return [server.base_url for server in servers]
        key = spec.api_key()  # a missing key is reported before any request is made
        urls = [url.rstrip("/") for url in spec.urls()]
        live = [url for url in urls if is_serving(url, timeout=min(spec.timeout, 5.0), api_key=key)]
        if not live:
            raise SmoloptError(f"model '{spec.name}' ({spec.provider}) is not reachable at {' or '.join(urls)}")
        if len(live) < len(urls):
            self.log.notice(f"{spec.name}: not reachable at {', '.join(u for u in urls if u not in live)}; using {', '.join(live)}")
        return live

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
