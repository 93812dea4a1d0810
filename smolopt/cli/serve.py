"""`smolopt serve`: keep an embedded model's servers (one per replica) up for other commands to reuse,
or, with --program, answer HTTP with a shipped program (smolopt.serving.program_api)."""

from __future__ import annotations

import argparse
import sys

from smolopt.cli.console import console
from smolopt.errors import SmoloptError
from smolopt.serving import PORT


def add_parser(sub) -> None:
    serve = sub.add_parser("serve", help="run an embedded model's servers (each replica) until Ctrl-C, for other commands to reuse; "
                                         "with --program, a shipped program as a local HTTP API")
    serve.add_argument("--model", default=None, help="registry entry (with --program: serve the program with it instead of the one its run used)")
    serve.add_argument("--program", default=None, help="answer POST /predict with this program.json (or run folder): JSON input fields in, output fields out")
    serve.add_argument("--port", type=int, default=None, help=f"with --program: the port on 127.0.0.1 (default {PORT}; 0: any free port)")
    serve.set_defaults(func=cmd_serve)


def cmd_serve_program(args: argparse.Namespace) -> int:
    """A shipped program on 127.0.0.1 until Ctrl-C or a stop signal, which stop its model too."""
    from smolopt.serving.program import load_program
    from smolopt.serving.program_api import PREDICT, serve_program

    served = load_program(args.program, model=args.model, registry=args.registry)
    usage = served.usage
    body = ", ".join(f'"{name}": …' for name in usage.inputs)

    def ready(url: str) -> None:
        say(f"serving {usage.program} ({usage.task} on {usage.model}{' + ' + usage.adapter.name if usage.adapter else ''}) at {url}/ "
            f"(POST {PREDICT} {{{body}}}; Ctrl-C stops it)")

    try:
        serve_program(served, PORT if args.port is None else args.port, ready)
    except KeyboardInterrupt:  # Ctrl-C (or a stop signal) is how serving ends
        say(f"stopped serving {usage.program}")
    return 0


def cmd_serve(args: argparse.Namespace) -> int:
    """Keep the entry's embedded servers (all its `replicas`) running so later commands reuse them
    (give the entry a fixed `port`: replica i listens on port + i)."""
    if args.program:
        return cmd_serve_program(args)
    if args.port is not None:
        raise SmoloptError("--port is for --program; an entry's servers listen on its 'port' in the registry")
    import time

    from smolopt.backends.embedded import start_replicas
    from smolopt.registry import load_registry

    spec = load_registry(args.registry).get(args.model)
    if not spec.started_here:
        raise SmoloptError(f"model '{spec.name}' is served by {spec.provider}, not by smolopt")
    if spec.port is None:
        raise SmoloptError(f"model '{spec.name}' has no 'port' in the registry; set one so other commands can find the server")
    servers = start_replicas(spec)
    started = [server for server in servers if server.process is not None]
    if not started:
        say(f"{spec.name} is already served at {', '.join(server.base_url for server in servers)}")
        return 0
    urls = ", ".join(server.base_url + ("" if server in started else " (already served)") for server in servers)
    try:
        say(f"serving {spec.name} at {urls} (Ctrl-C stops it)")
        while all(server.process.poll() is None for server in started):
            time.sleep(1)
        dead = next(server for server in started if server.process.poll() is not None)
        raise SmoloptError(f"the server of '{spec.name}' at {dead.base_url} exited")
    except KeyboardInterrupt:  # Ctrl-C (or a stop signal) is how serving ends: nothing was left unsaved
        say(f"stopped serving {spec.name}")
        return 0
    finally:
        for server in started:
            server.stop()


def say(line: str) -> None:
    """One line, flushed at once: a script waiting for the URLs reads them from a pipe."""
    console.print(line, markup=False, highlight=False, soft_wrap=True)
    sys.stdout.flush()
