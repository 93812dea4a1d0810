"""The one exception type the CLI turns into a one-line message and a non-zero exit."""

from __future__ import annotations

from typing import TypeVar

E = TypeVar("E", bound=BaseException)


class SmoloptError(Exception):
    """A user-facing error: bad input, a missing server, a missing key. Its message is the whole story."""


class ExampleFailure(SmoloptError):
    """One request failed for a reason of its own, not an outage: the example scores 0 and the run goes on."""


class ContextOverflow(ExampleFailure):
    """The server refused a prompt longer than the model's context: a property of that prompt, not an outage."""


class BadReply(ExampleFailure):
    """The server answered, but not with a completion (HTML, invalid JSON, a body of another shape)."""


class ServerDown(SmoloptError):
    """The server stayed unreachable, failing or silent through every retry: the run stops, its work kept."""


def found_in(err: BaseException | None, kind: type[E]) -> E | None:
    """The first `kind` in an exception's cause chain: DSPy and GEPA wrap the client's errors."""
    seen = set()
    while err is not None and id(err) not in seen:
        if isinstance(err, kind):
            return err
        seen.add(id(err))
        err = err.__cause__ or err.__context__
    return None
