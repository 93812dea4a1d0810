"""A merged GGUF for servers that load no adapters (LM Studio): base weights plus the LoRA delta.

Each adapted matrix becomes W + (alpha / rank) · B·A, which is what llama.cpp computes on the fly
with the adapter; its lora_b rows are already in the file's order (see export.py), so the delta
adds straight onto the stored matrix. Merged matrices are written as Q8_0: requantizing to the
base's 4-bit types would round much of a small delta away, and F16 doubles the file for no
measurable gain over Q8_0 at this size. Every other tensor and every metadata key is copied as it
was (the way gguf's own gguf_new_metadata script copies a file), plus the adapter's smolopt keys.
"""

from __future__ import annotations

import json
from pathlib import Path

import numpy as np

from smolopt.backends.lora import PROGRAM_FORMATS, TASK, check_adapter_for
from smolopt.errors import SmoloptError
from smolopt.tune.export import finish

MERGED_TYPE_NAME = "Q8_0"
MERGED_FROM = "smolopt.merged.base_sha256"


def _deltas(adapter: Path, alpha: float) -> dict[str, np.ndarray]:
    """{base tensor name: (alpha / rank) · B·A} from an adapter file."""
    import gguf

    tensors = {t.name: np.asarray(t.data, dtype=np.float32) for t in gguf.GGUFReader(str(adapter)).tensors}
    deltas = {}
    for name, a in tensors.items():
        if name.endswith(".lora_a"):
            b = tensors[name.removesuffix(".lora_a") + ".lora_b"]
            deltas[name.removesuffix(".lora_a")] = (alpha / a.shape[0]) * (b @ a)
    return deltas


def merge(base_gguf: Path, adapter: Path, out: Path, model_name: str) -> Path:
    """Write `out`: `base_gguf` with `adapter` folded in (checked to have been tuned on that base)."""
    import gguf

    info = check_adapter_for(adapter, base_gguf, model_name)
    deltas = _deltas(adapter, info.alpha)
    reader = gguf.GGUFReader(str(base_gguf))
    writer = gguf.GGUFWriter(str(out.with_suffix(".partial")), info.architecture)
    for field in reader.fields.values():
        if field.name == gguf.Keys.General.ARCHITECTURE or field.name.startswith("GGUF."):
            continue  # written by GGUFWriter itself
        kind = field.types[0]
        writer.add_key_value(field.name, field.contents(), kind, sub_type=field.types[-1] if kind == gguf.GGUFValueType.ARRAY else None)
    # What the merged weights were tuned for; not BASE_SHA256, which names the file an adapter goes on.
    writer.add_string(MERGED_FROM, info.base_sha256)
    writer.add_string(TASK, info.task)
    writer.add_string(PROGRAM_FORMATS, json.dumps(info.formats, sort_keys=True))
    q8 = gguf.GGMLQuantizationType[MERGED_TYPE_NAME]
    merged = 0
    for tensor in reader.tensors:
        delta = deltas.get(tensor.name)
        if delta is None:
            writer.add_tensor(tensor.name, tensor.data, raw_shape=tensor.data.shape, raw_dtype=tensor.tensor_type)
            continue
        weights = np.asarray(gguf.quants.dequantize(tensor.data, tensor.tensor_type), dtype=np.float32).reshape(delta.shape)
        packed = gguf.quants.quantize(weights + delta, q8)
        writer.add_tensor(tensor.name, packed, raw_shape=packed.shape, raw_dtype=q8)
        merged += 1
    if merged != len(deltas):
        raise SmoloptError(f"{adapter}: {len(deltas) - merged} of its matrices have no tensor in {base_gguf.name}")
    return finish(writer, out)
