"""GGUF LoRA adapters as llama.cpp loads them, and the checks before one is served.

An adapter file is a GGUF with `general.type = "adapter"`, `adapter.type = "lora"`,
`adapter.lora.alpha`, and a `<base tensor>.lora_a` / `.lora_b` pair per adapted matrix. smolopt
writes what llama.cpp needs plus what a user needs to serve it right: the base model it was tuned
on (its file's sha256, so an adapter is never put on another model, where llama.cpp would load it
without a word whenever the shapes happen to fit) and the prompt format it was trained in (weights
learn their prompt: served in another one they lose about 20 points on sentiment).
"""

from __future__ import annotations

import json
from dataclasses import dataclass
from pathlib import Path

from smolopt.backends.weights import sha256_of
from smolopt.errors import SmoloptError

BASE_SHA256 = "smolopt.base.sha256"
BASE_NAME = "smolopt.base.name"
PROGRAM_FORMATS = "smolopt.program.formats"  # JSON: {predictor: format text} the adapter was trained in
TASK = "smolopt.task"


@dataclass(frozen=True)
class AdapterInfo:
    """What an adapter file says about itself."""

    path: Path
    architecture: str
    alpha: float
    base_sha256: str
    base_name: str
    task: str
    formats: dict[str, str]
    tensors: int


def read_adapter(path: str | Path) -> AdapterInfo:
    """Read an adapter's metadata; a missing, truncated or foreign file is one line naming it."""
    import gguf

    path = Path(path)
    if not path.is_file():
        raise SmoloptError(f"{path}: adapter file not found")
    try:
        reader = gguf.GGUFReader(str(path))
        fields = {name: field.contents() for name, field in reader.fields.items()}
        tensors = len(reader.tensors)
    except Exception as err:  # noqa: BLE001 - gguf raises ValueError, struct errors, numpy errors on a bad file
        raise SmoloptError(f"{path}: not a readable GGUF adapter ({type(err).__name__}: {err})") from None
    if fields.get("general.type") != "adapter" or fields.get("adapter.type") != "lora":
        raise SmoloptError(f"{path}: a GGUF file, but not a LoRA adapter (general.type={fields.get('general.type')!r})")
    if not tensors or tensors % 2:
        raise SmoloptError(f"{path}: holds {tensors} tensors; a LoRA adapter holds lora_a/lora_b pairs")
    try:
        formats = json.loads(fields.get(PROGRAM_FORMATS) or "{}")
    except json.JSONDecodeError:
        raise SmoloptError(f"{path}: metadata {PROGRAM_FORMATS} is not JSON") from None
    return AdapterInfo(
        path=path,
        architecture=str(fields.get("general.architecture", "")),
        alpha=float(fields.get("adapter.lora.alpha", 0.0)),
        base_sha256=str(fields.get(BASE_SHA256, "")),
        base_name=str(fields.get(BASE_NAME, "")),
        task=str(fields.get(TASK, "")),
        formats=formats,
        tensors=tensors,
    )


def check_adapter_for(adapter: str | Path, base_gguf: Path, model_name: str) -> AdapterInfo:
    """The adapter's metadata, after making sure it was tuned on exactly this base file."""
    info = read_adapter(adapter)
    if not info.base_sha256:
        raise SmoloptError(f"{info.path}: names no base model ({BASE_SHA256}); smolopt serves only adapters it can match to their base")
    if info.base_sha256 != (found := sha256_of(base_gguf)):
        raise SmoloptError(
            f"{info.path}: tuned on base '{info.base_name}' (sha256 {info.base_sha256[:12]}…), "
            f"not on model '{model_name}' ({base_gguf.name}, sha256 {found[:12]}…)"
        )
    return info
