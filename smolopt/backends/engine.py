"""LocalClient as a DSPy language model.

DSPy 3.4 takes custom back ends as engines (`complete(Request) -> Response`) behind `dspy.LM`.
The engine only translates: DSPy's own cache and retries are off, because LocalClient already
caches into the run directory and retries connection errors, and doing either twice would hide
what really went over the wire.
"""

from __future__ import annotations

import dspy
from dspy.lm15 import Message, Response, TextPart, Usage

from smolopt.backends.client import LocalClient
from smolopt.errors import SmoloptError


def _text(parts) -> str:
    if parts is None or isinstance(parts, str):
        return parts or ""
    return "".join(getattr(part, "text", "") or "" for part in parts)


class LocalEngine:
    """A DSPy engine that sends every request through a LocalClient."""

    def __init__(self, client: LocalClient):
        self.client = client

    def complete(self, request) -> Response:
        if not self.client.can("chat"):  # the server would wrap the turns in a template of its own guessing
            raise SmoloptError(f"model '{self.client.spec.name}' has no chat template (a base model), so it cannot be asked in "
                               "chat turns; ask it as plain text (RawTextAdapter in a completion format)")
        messages = []
        if request.system is not None:
            messages.append({"role": "system", "content": _text(request.system)})
        messages.extend({"role": m.role, "content": m.text or ""} for m in request.messages)
        config = request.config
        completion = self.client.chat(
            messages,
            max_tokens=config.max_tokens,
            temperature=config.temperature,
            stop=list(config.stop) or None,
        )
        finish = completion.finish_reason if completion.finish_reason in ("stop", "length") else "stop"
        return Response(
            id=None,
            model=self.client.spec.name,
            message=Message.assistant([TextPart(completion.text)]),
            finish_reason=finish,
            usage=Usage(
                input_tokens=completion.prompt_tokens,
                output_tokens=completion.completion_tokens,
                total_tokens=completion.prompt_tokens + completion.completion_tokens,
            ),
        )

    def stream(self, request):
        raise NotImplementedError("smolopt does not stream")

    def close(self) -> None:
        self.client.close()


class SmoloptLM(dspy.LM):
    """A dspy.LM over smolopt's raw path, with one declared handle for what DSPy's interface lacks.

    `text_model` is the model connection itself: plain-text completions, next-token
    log-probabilities (smolopt.adapters.label_scorer.TextModel is what adapters may ask of it), and
    `parallel`, how many requests it takes at once. Adapters read this attribute and nothing else
    behind the LM.
    """

    text_model: LocalClient

    def __init__(self, client: LocalClient):
        spec = client.spec
        super().__init__(
            f"smolopt/{spec.name}",
            engine=LocalEngine(client),
            cache=False,
            num_retries=0,
            temperature=spec.temperature,
            max_tokens=spec.max_tokens,
        )
        self.text_model = client


def as_dspy_lm(client: LocalClient) -> SmoloptLM:
    """A dspy.LM whose every call goes through `client` (no DSPy cache, no DSPy retries)."""
    return SmoloptLM(client)
