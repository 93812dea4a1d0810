"""`smolopt serve`: keep an embedded model's server up for other commands to reuse."""

from __future__ import annotations

import argparse

from smolopt.cli.console import console
from smolopt.errors import SmoloptError


def add_parser(sub) -> None:
    serve = sub.add_parser("serve", help="run an embedded model's server until Ctrl-C, for other commands to reuse")
    serve.add_argument("--model", default=None)
    serve.set_defaults(func=cmd_serve)

def cmd_serve(args: argparse.Namespace) -> int:
    """Keep one embedded server running so later commands reuse it (give the entry a fixed `port`)."""
    import time

    from smolopt.backends.embedded import EmbeddedServer
    from smolopt.registry import load_registry

    spec = load_registry(args.registry).get(args.model)
    if spec.provider != "embedded":
        raise SmoloptError(f"model '{spec.name}' is served by {spec.provider}, not by smolopt")
    if spec.port is None:
        raise SmoloptError(f"model '{spec.name}' has no 'port' in the registry; set one so other commands can find the server")
    server = EmbeddedServer(spec)
    url = server.start()
    if server.process is None:
        console.print(f"{spec.name} is already served at {url}")
        return 0
    console.print(f"serving {spec.name} at {url} (Ctrl-C stops it)")
    try:
        while server.process.poll() is None:
            time.sleep(1)
    finally:
        server.stop()
    return 0
