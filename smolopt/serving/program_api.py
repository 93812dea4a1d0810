"""`smolopt serve --program`: a shipped program as a local HTTP API any app can call, on 127.0.0.1.

    GET  /          {"task": …, "inputs": [...], "outputs": [...], "labels": …, "model": …, "adapter": …, "formats": [...], "program": …}
    POST /predict   {"text": "…"}  →  {"sentiment": "positive"}

A body that is not a JSON object, or lacks an input field (or has one the task does not take), is
HTTP 400 with {"error": "…"} naming the field; a prompt too long for the model's context is 400
too; a model server that fails is 502. An output the model's reply did not give is null, as an
evaluation records it. Requests are answered on threads (the stdlib ThreadingHTTPServer, as the
tests' proxies), each in its own DSPy context; the model client takes its entry's `parallel` at once.
"""

from __future__ import annotations

import json
from collections.abc import Callable
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from typing import Any

from smolopt.errors import ContextOverflow, SmoloptError, found_in
from smolopt.serving.program import ServedProgram

HOST = "127.0.0.1"
PREDICT = "/predict"


class BadRequest(Exception):
    """What the caller sent cannot be answered: HTTP 400 with this message."""


def read_inputs(served: ServedProgram, raw: bytes) -> dict[str, Any]:
    """The input fields of a /predict body, or BadRequest naming what is wrong."""
    try:
        body = json.loads(raw or b"null")
    except (ValueError, UnicodeDecodeError) as err:
        raise BadRequest(f"the body is not JSON ({err})") from None
    if not isinstance(body, dict):
        raise BadRequest(f"the body must be a JSON object with the input fields {', '.join(served.task.inputs)}")
    if problem := served.input_problem(body):
        raise BadRequest(problem)
    return body


def predict(served: ServedProgram, inputs: dict[str, Any]) -> dict[str, Any]:
    """The program's output fields for one input, as JSON values."""
    prediction = served(**inputs)
    return {name: prediction.get(name) for name in served.usage.outputs}


def handler_for(served: ServedProgram) -> type[BaseHTTPRequestHandler]:
    description = json.dumps(served.usage.to_json(), ensure_ascii=False).encode()

    class Handler(BaseHTTPRequestHandler):
        def log_message(self, *_args: object) -> None:
            pass  # one line per request would bury the address the command printed

        def reply(self, status: int, content: bytes) -> None:
            self.send_response(status)
            self.send_header("Content-Type", "application/json")
            self.send_header("Content-Length", str(len(content)))
            self.end_headers()
            self.wfile.write(content)

        def error(self, status: int, message: str) -> None:
            self.reply(status, json.dumps({"error": message}, ensure_ascii=False).encode())

        def do_GET(self) -> None:
            if self.path.split("?")[0] != "/":
                self.error(404, f"no page {self.path}: GET / describes the program, POST {PREDICT} answers")
                return
            self.reply(200, description)

        def do_POST(self) -> None:
            if self.path.split("?")[0] != PREDICT:
                self.error(404, f"POST {PREDICT} answers, not {self.path}")
                return
            try:
                length = int(self.headers.get("Content-Length") or 0)
            except ValueError:
                self.error(400, "Content-Length is not a number")
                return
            try:
                answer = predict(served, read_inputs(served, self.rfile.read(length)))
            except BadRequest as err:
                self.error(400, str(err))
                return
            except Exception as err:  # noqa: BLE001 - DSPy wraps the client's errors
                if overflow := found_in(err, ContextOverflow):
                    self.error(400, f"the input does not fit the model's context ({overflow})")
                elif failure := found_in(err, SmoloptError):
                    self.error(502, str(failure))
                else:
                    self.error(500, f"{type(err).__name__}: {err}")
                return
            self.reply(200, json.dumps(answer, ensure_ascii=False).encode())

    return Handler


def program_server(served: ServedProgram, port: int) -> ThreadingHTTPServer:
    """The HTTP server of a started program on 127.0.0.1:`port` (0: any free port); not yet serving."""
    try:
        server = ThreadingHTTPServer((HOST, port), handler_for(served))
    except OSError as err:
        raise SmoloptError(f"cannot listen on {HOST}:{port} ({err.strerror}); choose another --port (0: any free one)") from None
    server.daemon_threads = True
    return server


def serve_program(served: ServedProgram, port: int, ready: Callable[[str], None]) -> None:
    """Start the program's model, answer HTTP on `port` until Ctrl-C or a stop signal, then stop both.
    `ready` hears the base URL once requests are answered. The model starts on this thread, which
    outlives the request threads (an embedded server dies with the thread that started it)."""
    server = program_server(served, port)  # a port in use is said before the model loads
    try:
        with served:
            ready(f"http://{HOST}:{server.server_address[1]}")
            server.serve_forever()
    finally:
        server.server_close()
