"""`smolopt view`: a local web page over the run folders (runs, reports, examples, comparisons, blind rating)."""

from __future__ import annotations

import argparse
import socket
import sys
from pathlib import Path

from smolopt.cli.console import console
from smolopt.errors import SmoloptError

HOST = "127.0.0.1"  # loopback only: the page shows prompts and model outputs, and accepts ratings
DEFAULT_PORT = 8765


def add_parser(sub) -> None:
    view = sub.add_parser("view", help="look at run folders in the browser (read-only except ratings.jsonl, pairs.key and report.md's ratings)")
    view.add_argument("runs_dir", nargs="?", type=Path, default=None, help="folder of run folders (default: ./runs or $SMOLOPT_RUNS)")
    view.add_argument("--port", type=int, default=DEFAULT_PORT, help=f"port on {HOST} (default {DEFAULT_PORT}; 0 picks a free one)")
    view.add_argument("--open", action="store_true", help="open the page in the default browser")
    view.set_defaults(func=cmd_view)


def bound_socket(port: int) -> socket.socket:
    """The listening socket, bound before the server starts, so a port in use is one clear line and
    --port 0 has its real number to print."""
    if not 0 <= port <= 65535:
        raise SmoloptError(f"--port must be 0-65535, not {port}")
    sock = socket.socket(socket.AF_INET, socket.SOCK_STREAM)
    try:
        sock.bind((HOST, port))
    except OSError as err:
        sock.close()
        raise SmoloptError(f"--port {port}: cannot listen on {HOST}:{port} ({err.strerror}); pick another port, or 0 for any free one") from None
    return sock


def cmd_view(args: argparse.Namespace) -> int:
    import uvicorn

    from smolopt.runs import runs_dir
    from smolopt.view.app import create_app

    root = args.runs_dir or runs_dir()
    if not root.is_dir():
        raise SmoloptError(f"{root}: no such folder of runs (runs are written to ./runs, or $SMOLOPT_RUNS)")
    sock = bound_socket(args.port)
    url = f"http://{HOST}:{sock.getsockname()[1]}/"
    console.print(f"smolopt view of {root.resolve()} at {url} (Ctrl-C stops it)", markup=False, highlight=False, soft_wrap=True)
    sys.stdout.flush()
    if args.open:
        import webbrowser

        webbrowser.open(url)
    server = uvicorn.Server(uvicorn.Config(create_app(root), log_level="warning", access_log=False))
    try:
        server.run(sockets=[sock])
    except KeyboardInterrupt:  # uvicorn shuts down cleanly, then passes Ctrl-C (or SIGTERM) on: nothing was left unsaved
        pass
    console.print("smolopt view stopped", markup=False, highlight=False)
    return 0
