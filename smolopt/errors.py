"""The one exception type the CLI turns into a one-line message and a non-zero exit."""


class SmoloptError(Exception):
    """A user-facing error: bad input, a missing server, a missing key. Its message is the whole story."""
