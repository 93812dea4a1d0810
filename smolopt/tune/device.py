"""Where a tune trains: `--device auto|cpu|cuda|mps`; auto takes CUDA, else Apple MPS, else the CPU.

The dtype is float32 on every device. On the CPU, half precision buys nothing: most CPUs have no
fast float16/bfloat16 matrix multiply, and the 135M's float32 copy is 540 MB. On a GPU, float32 is
kept too, for lack of a measured reason to change it (no GPU was at hand to time bfloat16 or to
see what it does to val), and because the export checks that the weights it trained on are the
base file's own (layer 0's q and k against the GGUF at 1e-5, smolopt.tune.export), which
bfloat16 weights would fail. Training moves the model and each batch to the device and brings the
model back to the CPU at the end; checkpoints and the returned LoRA state hold CPU tensors, so a
GPU-trained adapter writes the same files (adapter.gguf, peft folder, merged.gguf) and a tune
checkpointed on one device resumes on another.
"""

from __future__ import annotations

from smolopt.errors import SmoloptError

DEVICES = ("auto", "cpu", "cuda", "mps")
SHOWN = {"cuda": "CUDA", "mps": "Apple MPS"}


def resolve_device(asked: str, *, cuda: bool, mps: bool) -> str:
    """The torch device a tune trains on, given what was asked and what torch sees; a named device
    torch does not see is refused in one line, never swapped for another."""
    if asked not in DEVICES:
        raise SmoloptError(f"--device {asked}: not a device (choose {', '.join(DEVICES)})")
    seen = [name for name, present in (("cuda", cuda), ("mps", mps)) if present] + ["cpu"]
    if asked == "auto":
        return seen[0]
    if asked not in seen:
        raise SmoloptError(f"--device {asked}: torch sees no {SHOWN[asked]} device here, only {' and '.join(seen)}; "
                           f"use --device {' or '.join(['auto', *seen])}")
    return asked


def torch_device(asked: str) -> str:
    """`resolve_device` with what the installed torch sees. Without torch (no tune extra) only the
    CPU is seen; loading the model then says which extra to add."""
    try:
        import torch
    except ImportError:
        return resolve_device(asked, cuda=False, mps=False)
    return resolve_device(asked, cuda=torch.cuda.is_available(), mps=torch.backends.mps.is_available())
