"""What each kind of server does: one record per `provider`, read wherever a kind behaves differently.

    offers                 what it serves out of the box (an entry's `offers` overrides it)
    end_of_text_forbidden  body fields that keep end-of-text from being the one token a scoring
                           request generates
    parallel               requests at once when the entry sets no `parallel`: a number per URL,
                           "replicas" (one per embedded server) or "slots" (the server says at /props)
    started_by_smolopt     whether smolopt starts (and stops) the server itself
    native_api             the server's own API beside /v1, used where its OpenAI layer means
                           something else: "ollama" (smolopt.backends.ollama) sends completion
                           formats to /api/generate with `raw: true` and chat to /api/chat, each
                           with the entry's context_length as num_ctx, and `smolopt models` reads
                           its /api/version
    ships_with             what `optimize --weights lora` leaves in the run folder when tuned weights
                           ship, for this kind of server to load, and the line that loads each
                           (none: the kind loads no weights file of the user's, and no tune ships to it)

End-of-text: a model that would end its answer at once generates nothing, the server lists no token
scores, and the request had to be sent again with end-of-text forbidden (1.29 calls per scored
sentiment example on the 135M). Every server that takes such a field computes the listed
log-probabilities from the logits before the constraint, so the labels' scores are the model's.
Recorded replies of every kind are pinned in tests/test_recorded_replies.py.
"""

from __future__ import annotations

from dataclasses import dataclass, field
from typing import Literal

Capability = Literal["chat", "completions", "logprobs"]
Provider = Literal["embedded", "lmstudio", "ollama", "llamacpp", "vllm", "openai"]


@dataclass(frozen=True)
class Load:
    """A file a weights run leaves for one kind of server, and the line a user types to give it to that server.
    `line` has `{path}` (the file) and `{name}` (the run's id, lowercased: the name the model gets there)."""

    file: str
    line: str


# The names are those smolopt.tune writes (serving.SERVE_SCRIPT, serving.MODELFILE, session.MERGED;
# pinned by tests/test_weights_elsewhere_story.py, as tune imports this module through the registry).
SERVE_SCRIPT = Load("serve.sh", "sh {path}")
MODELFILE = Load("Modelfile", "ollama create {name} -f {path}")
# LM Studio loads no adapters, so it gets base and adapter in one file. `lms import` moves the file
# into LM Studio's models folder unless told --copy (the run keeps what its results name), asks where
# to file it unless given --user-repo, and refuses a second file of the same name there.
MERGED_GGUF = Load("merged.gguf", "lms import --copy --user-repo smolopt/{name} {path}")


@dataclass(frozen=True)
class ServerKind:
    """One kind of server, as smolopt meets it."""

    name: str
    offers: tuple[Capability, ...]
    parallel: int | Literal["replicas", "slots"]
    started_by_smolopt: bool = False
    end_of_text_forbidden: dict = field(default_factory=dict)
    native_api: Literal["ollama"] | None = None
    ships_with: tuple[Load, ...] = ()


KINDS: dict[str, ServerKind] = {kind.name: kind for kind in (
    # llama-cpp-python's server on 127.0.0.1, started from a GGUF in a wheel. It holds a lock per
    # request, so it takes one at a time per replica: on 2 cores (48 sentiment examples) one server
    # took 13.6 s one at a time and 15.0 s two at a time; two single-thread replicas took 7.5 s.
    ServerKind("embedded", ("chat", "completions", "logprobs"), "replicas", started_by_smolopt=True,
               end_of_text_forbidden={"min_tokens": 1}, ships_with=(SERVE_SCRIPT,)),
    # llama.cpp's llama-server (or llama-cpp-python's, run by the user): llama-server does not know
    # `min_tokens` but has `ignore_eos` (-inf on every end-of-generation token); each ignores the
    # other's field. Its slot count is at /props.
    ServerKind("llamacpp", ("chat", "completions", "logprobs"), "slots", end_of_text_forbidden={"min_tokens": 1, "ignore_eos": True},
               ships_with=(SERVE_SCRIPT,)),
    # vLLM batches far more than a thread per request is worth here; it honours `min_tokens`.
    ServerKind("vllm", ("chat", "completions", "logprobs"), 16, end_of_text_forbidden={"min_tokens": 1}, ships_with=(SERVE_SCRIPT,)),
    # LM Studio serves /v1/completions as plain text: its docs say "Prompt template is not applied"
    # there (and applied on /v1/chat/completions): lmstudio.ai/docs/developer/openai-compat/completions,
    # lmstudio-ai/docs 1_developer/3_openai-compat/completions.md. It returns no token logprobs, and
    # answers four at once by default. No end-of-text field: an answer that ends at once stays
    # unscored and is generated.
    ServerKind("lmstudio", ("chat", "completions"), 4, ships_with=(MERGED_GGUF,)),
    # Ollama applies the chat template to a /v1/completions prompt (ollama/ollama#5544, closed as
    # intended), so completion formats go to its own /api/generate with `raw: true`, and chat to its
    # /api/chat (its /v1 cannot set num_ctx). Token logprobs come on both from Ollama 0.12.11
    # (ollama/ollama#12899, at most 20 per position); an older server sends none, and scored formats
    # fall back to generation with a notice. No end-of-text field. One request per loaded model
    # unless OLLAMA_NUM_PARALLEL says otherwise.
    ServerKind("ollama", ("chat", "completions", "logprobs"), 1, native_api="ollama", ships_with=(MODELFILE,)),
    # Hosted chat APIs have dropped /v1/completions for most models but give logprobs on chat, limit
    # by rate rather than slots, and answer an unknown body field with HTTP 400. They load no weights file.
    ServerKind("openai", ("chat", "logprobs"), 4),
)}
