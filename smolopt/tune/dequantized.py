"""A GGUF's weights as transformers dequantizes them, kept in the cache folder so a tune pays for
dequantizing once per file, not once per tune.

transformers reads a GGUF by dequantizing every tensor in Python: 41 s for SmolLM2-135M Q4_1 on
2 cores, before the first training step (a one-epoch tune of 24 examples took 110 s, 15 s of it
training). The same weights saved as safetensors (float32, 540 MB for the 135M) load in about 2 s.
Every tune of the main job, the probe's weights rows and each arm of `optimize --weights lora`
start from the same file, so the second and later ones start at once.

The key is the GGUF's sha256 and transformers' version (its dequantizer may change); the folder
is written under a temporary name and renamed into place, so a reader never sees half of one.
Loaded from the cache, the model is the same float32 tensors, so adapters and their q/k row order
are unchanged (tests/test_tune_story.py compares served and trained log-probabilities).
"""

from __future__ import annotations

import copy
import shutil
import tempfile
from pathlib import Path
from typing import Any

from smolopt.backends.weights import cache_dir, sha256_of
from smolopt.tune.hf import causal_lm


def dequantized_folder(gguf: Path) -> Path:
    """Where the dequantized copy of `gguf` is kept (it may not exist yet)."""
    import transformers

    return cache_dir() / "dequantized" / f"{sha256_of(gguf)[:16]}-transformers-{transformers.__version__}"


def dequantized_model(gguf: Path, threads: int) -> Any:
    """transformers' float32 model of the GGUF `gguf`, from the cache when a copy is there, else
    dequantized from the file and then kept (a cache that cannot be written only costs the time)."""
    folder = dequantized_folder(gguf)
    if (folder / "config.json").is_file():
        return causal_lm(folder, threads)
    model = causal_lm(gguf.parent, threads, gguf_file=gguf.name)
    partial: Path | None = None
    try:
        folder.parent.mkdir(parents=True, exist_ok=True)
        partial = Path(tempfile.mkdtemp(prefix=folder.name + ".", dir=folder.parent))
        # transformers' save_pretrained refuses a model it read from a GGUF (a "quantized" one); its
        # config and its tensors (the tied embedding once) are all a folder load needs.
        from safetensors.torch import save_model  # torch: only when a tune runs

        config = copy.deepcopy(model.config)
        config.__dict__.pop("quantization_config", None)  # these are plain float32 tensors now
        config.save_pretrained(partial)
        save_model(model, str(partial / "model.safetensors"), metadata={"format": "pt"})
        partial.rename(folder)  # another tune may have put one there first: then this copy goes
    except OSError:
        if partial is not None:
            shutil.rmtree(partial, ignore_errors=True)
    return model
