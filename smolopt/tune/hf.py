"""The Hugging Face side of a tune: transformers loading weights for training, an `hf` entry's
folder and tokenizer, and the peft adapter folder that vLLM serves.

An `hf = "FOLDER"` entry names the folder its server loads (`vllm serve FOLDER`). A tune trains on
that folder's weights and tokenizes with the folder's own tokenizer, the one the server turns
prompts into ids with, so the loss is on the tokens the server scores. What it leaves is a peft
adapter folder (adapter_config.json, adapter_model.safetensors), which vLLM serves with
`--lora-modules`. No adapter.gguf: its metadata names the base by the GGUF file's sha256 and its
q/k row order is measured against that file (export.py), and an hf entry has no such file.
"""

from __future__ import annotations

import contextlib
import copy
import io
import shutil
from dataclasses import dataclass
from pathlib import Path
from typing import Any

from smolopt.errors import SmoloptError
from smolopt.registry import ModelSpec
from smolopt.tune.examples import ChatRenderer

PEFT_ADAPTER = "adapter"  # runs/<id>/adapter/, beside program.json and serve.sh


def hf_folder(spec: ModelSpec) -> Path:
    """The entry's Hugging Face folder; anything but a folder holding config.json is one line naming the entry."""
    folder = Path(spec.hf or "").expanduser()
    if not (folder / "config.json").is_file():
        found = "has no config.json" if folder.is_dir() else "is not a folder"
        raise SmoloptError(f"{spec.where()} key 'hf': {folder} {found}; name the Hugging Face model folder its server loads "
                           "(config.json, the weights and the tokenizer)")
    return folder


def causal_lm(folder: Path, threads: int, gguf_file: str | None = None) -> Any:
    """transformers' model for training (float32, loaded on the CPU, no KV cache) from a model folder, or from the
    GGUF file `gguf_file` in it; a missing tune extra or weights transformers cannot read is one line."""
    try:
        import torch
        from transformers import AutoModelForCausalLM
        from transformers.utils import logging as hf_logging
    except ImportError as err:
        raise SmoloptError(f"tuning needs the tune extra ({err.name} is not installed): pip install 'smolopt[tune]'") from None
    torch.set_num_threads(threads)
    hf_logging.set_verbosity_error()
    named = folder / gguf_file if gguf_file else folder
    try:
        with contextlib.redirect_stdout(io.StringIO()), contextlib.redirect_stderr(io.StringIO()):
            model = AutoModelForCausalLM.from_pretrained(str(folder), gguf_file=gguf_file, dtype=torch.float32)
    except Exception as err:  # noqa: BLE001 - transformers raises ValueError/KeyError/NotImplementedError per arch and quant
        raise SmoloptError(f"{named}: transformers cannot load these weights for tuning ({type(err).__name__}: {err})") from None
    model.config.use_cache = False
    return model


@dataclass
class HfTokens:
    """A folder's own tokenizer, used the way vLLM's OpenAI server uses it (smolopt.tune.base.Tokens)."""

    tokenizer: Any  # transformers PreTrainedTokenizerBase

    def prompt_ids(self, text: str) -> list[int]:
        """vLLM adds the tokenizer's special tokens to a completion prompt and none to a chat
        template's text, whose template writes the BOS itself where the model wants one: so never
        a second BOS in front of one the text already starts with."""
        bos = self.tokenizer.bos_token
        return list(self.tokenizer(text, add_special_tokens=not (bos and text.startswith(bos))).input_ids)

    def continuation_ids(self, text: str) -> list[int]:
        return list(self.tokenizer(text, add_special_tokens=False).input_ids)

    @property
    def pad_id(self) -> int:
        # Padding is masked out of attention and loss; any id the model knows will do, as on the GGUF side.
        return int(self.tokenizer.eos_token_id)

    @property
    def chat(self) -> ChatRenderer | None:
        if not self.tokenizer.chat_template:
            return None
        return lambda messages: self.tokenizer.apply_chat_template(messages, tokenize=False, add_generation_prompt=True)


def hf_tokens(folder: Path) -> HfTokens:
    from transformers import AutoTokenizer

    try:
        return HfTokens(AutoTokenizer.from_pretrained(str(folder)))
    except Exception as err:  # noqa: BLE001 - tokenizers raise OSError/ValueError/KeyError on a folder without a usable tokenizer
        raise SmoloptError(f"{folder}: transformers cannot load its tokenizer ({type(err).__name__}: {err})") from None


def write_peft(folder: Path, lora: dict[str, Any], model: Any, base: Path) -> Path:
    """Write `lora` (a peft state dict) as the folder PeftModel.save_pretrained writes: the LoRA
    config train put on `model`, naming `base`, and the weights in safetensors.

    Training keeps the best epoch's state dict, not a PeftModel to call save_pretrained on, so the
    folder is written from the same two pieces. It is filled under a .partial name and renamed into
    place: a tune killed while writing leaves no half adapter for vLLM to load.
    """
    from peft.utils.constants import SAFETENSORS_WEIGHTS_NAME
    from safetensors.torch import save_file

    config = copy.copy(model.peft_config["default"])  # get_peft_model's adapter name
    config.base_model_name_or_path = str(base.resolve())
    config.inference_mode = True  # as save_pretrained writes it: loaded for serving, not for more training
    partial = folder.with_name(folder.name + ".partial")
    shutil.rmtree(partial, ignore_errors=True)
    config.save_pretrained(str(partial))
    save_file({key: value.detach().contiguous() for key, value in lora.items()}, str(partial / SAFETENSORS_WEIGHTS_NAME),
              metadata={"format": "pt"})
    shutil.rmtree(folder, ignore_errors=True)  # a resumed tune writes its adapter again
    partial.rename(folder)
    return folder
