"""The one exception type the CLI turns into a one-line message and a non-zero exit."""


class SmoloptError(Exception):
    """A user-facing error: bad input, a missing server, a missing key. Its message is the whole story."""


class ContextOverflow(SmoloptError):
    """The server refused a prompt longer than the model's context: a property of that prompt, not an outage."""
