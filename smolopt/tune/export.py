"""Write a trained LoRA as a llama.cpp GGUF adapter, in the base file's own tensor layout.

Tensor names come from gguf's own map of Hugging Face module names (`model.layers.3.self_attn.q_proj`
→ `blk.3.attn_q`), so any architecture both transformers and llama.cpp know maps without a table
of ours. lora_a is (rank, in) and lora_b (out, rank), as llama.cpp expects them.

The trap: llama.cpp's converter stores the llama architecture's q and k rows in another order
than Hugging Face (rotary pairs interleaved), and transformers undoes that when it loads the GGUF.
A delta trained on transformers' rows must go back to the file's order, on lora_b (the rows of
B·A). Which matrices need it is not assumed per architecture but measured: layer 0's q and k as
transformers loaded them are compared with the same tensors read straight from the file. Accuracy
alone hides the mistake (93.8% on sentiment test either way in the spike); the log-probability gap
between transformers and llama.cpp shows it (0.62 without the re-permutation, 0.11 with).
"""

from __future__ import annotations

import json
from collections.abc import Callable
from pathlib import Path
from typing import Any

import numpy as np

from smolopt.backends.lora import BASE_NAME, BASE_SHA256, PROGRAM_FORMATS, TASK
from smolopt.backends.weights import sha256_of
from smolopt.errors import SmoloptError

Reorder = Callable[[np.ndarray], np.ndarray]


def rotary_rows(weights: np.ndarray, heads: int) -> np.ndarray:
    """Hugging Face's q/k row order → llama.cpp's (each head's two rotary halves interleaved)."""
    return weights.reshape(heads, 2, weights.shape[0] // heads // 2, *weights.shape[1:]).swapaxes(1, 2).reshape(weights.shape)


def _file_tensor(reader: Any, name: str) -> np.ndarray:
    import gguf

    tensor = next((t for t in reader.tensors if t.name == name), None)
    if tensor is None:
        raise SmoloptError(f"base file has no tensor '{name}'")
    values = gguf.quants.dequantize(tensor.data, tensor.tensor_type)
    return np.asarray(values, dtype=np.float32).reshape(tuple(int(n) for n in reversed(tensor.shape)))


def row_orders(model: Any, base_gguf: Path, names: Callable[[str], str]) -> dict[str, Reorder]:
    """{module suffix: how its lora_b rows go into the file's order}, measured on layer 0."""
    import gguf

    reader = gguf.GGUFReader(str(base_gguf))
    config = model.config
    heads = {"q_proj": config.num_attention_heads, "k_proj": getattr(config, "num_key_value_heads", None) or config.num_attention_heads}
    layer = model.get_decoder().layers[0].self_attn
    orders: dict[str, Reorder] = {}
    for module, count in heads.items():
        loaded = getattr(layer, module).weight.detach().float().numpy()
        stored = _file_tensor(reader, names(f"model.layers.0.self_attn.{module}") + ".weight")
        if np.allclose(loaded, stored, atol=1e-5):
            continue
        if np.allclose(rotary_rows(loaded, count), stored, atol=1e-5):
            orders[module] = lambda rows, count=count: rotary_rows(rows, count)
            continue
        raise SmoloptError(f"{base_gguf}: layer 0 {module} matches the loaded weights in no known row order; cannot export an adapter for it")
    return orders


def gguf_namer(architecture: str, blocks: int) -> Callable[[str], str]:
    """Hugging Face module name → GGUF tensor base name, from gguf's own tables."""
    import gguf

    arch = next((key for key, value in gguf.MODEL_ARCH_NAMES.items() if value == architecture), None)
    if arch is None:
        raise SmoloptError(f"gguf does not know the architecture '{architecture}'")
    table = gguf.get_tensor_name_map(arch, blocks)

    def name(module: str) -> str:
        found = table.get_name(module)
        if found is None:
            raise SmoloptError(f"no GGUF tensor name for '{module}' in architecture '{architecture}'")
        return found
    return name


def write_adapter(path: Path, lora: dict[str, Any], model: Any, base_gguf: Path, architecture: str, alpha: float,
                  *, base_name: str, task: str, formats: dict[str, str]) -> Path:
    """Write `lora` (peft state dict: `…q_proj.lora_A.weight` → tensor) as a llama.cpp adapter."""
    import gguf

    blocks = int(model.config.num_hidden_layers)
    names = gguf_namer(architecture, blocks)
    orders = row_orders(model, base_gguf, names)
    writer = gguf.GGUFWriter(str(path.with_suffix(".partial")), architecture)
    writer.add_type(gguf.GGUFType.ADAPTER)
    writer.add_string(gguf.Keys.Adapter.TYPE, "lora")
    writer.add_float32(gguf.Keys.Adapter.LORA_ALPHA, float(alpha))
    writer.add_string(BASE_SHA256, sha256_of(base_gguf))
    writer.add_string(BASE_NAME, base_name)
    writer.add_string(TASK, task)
    writer.add_string(PROGRAM_FORMATS, json.dumps(formats, sort_keys=True))
    for key in sorted(k for k in lora if ".lora_A." in k):
        module = key.split("base_model.model.", 1)[-1].split(".lora_A.", 1)[0]
        a = lora[key].detach().float().numpy()
        b = lora[key.replace(".lora_A.", ".lora_B.")].detach().float().numpy()
        reorder = orders.get(module.rsplit(".", 1)[-1])
        if reorder is not None:
            b = reorder(b)
        base = names(module)
        writer.add_tensor(f"{base}.weight.lora_a", np.ascontiguousarray(a, dtype=np.float32))
        writer.add_tensor(f"{base}.weight.lora_b", np.ascontiguousarray(b, dtype=np.float32))
    return finish(writer, path)


def finish(writer: Any, path: Path) -> Path:
    """Write a GGUFWriter opened on `path`'s .partial name, then rename it into place: a tune killed
    while writing leaves no half file that llama.cpp would try to load."""
    writer.write_header_to_file()
    writer.write_kv_data_to_file()
    writer.write_tensors_to_file()
    writer.close()
    path.with_suffix(".partial").replace(path)
    return path
