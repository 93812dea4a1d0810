"""How to serve a tuned model wherever a user runs one: the files a tune run leaves beside its adapter.

    embedded      `lora = "runs/<id>/adapter.gguf"` on the entry, or `--adapter` on eval/optimize/probe
    llama-server  serve.sh: `llama-server -m BASE.gguf --lora adapter.gguf`
    Ollama        Modelfile: FROM the same base file, ADAPTER the adapter (`ollama create NAME -f Modelfile`)
    LM Studio     loads no adapters: `smolopt tune --merge` writes merged.gguf, base and delta in one file
    vLLM          (an `hf` entry) serve.sh: `vllm serve FOLDER --enable-lora --lora-modules <run id>=runs/<id>/adapter`

An `hf` entry gets no Modelfile: Ollama users name the GGUF their Ollama loads (`gguf = PATH`), and
an Ollama import of a safetensors folder plus adapter is a path no test here can check.
"""

from __future__ import annotations

import shlex
from pathlib import Path
from urllib.parse import urlparse

from smolopt.registry import ModelSpec

SERVE_SCRIPT = "serve.sh"
MODELFILE = "Modelfile"


def modelfile(base: Path, adapter: Path, temperature: float) -> str:
    """An Ollama Modelfile putting the adapter on the base file it was tuned on."""
    return (f"# ollama create my-tuned-model -f {MODELFILE}\n"
            f"FROM {base.resolve()}\nADAPTER {adapter.resolve()}\nPARAMETER temperature {temperature:g}\n")


def llama_server_script(base: Path, adapter: Path, context_length: int) -> str:
    """The llama-server command line (llama.cpp's own server) for the tuned model."""
    command = ["llama-server", "-m", str(base.resolve()), "--lora", str(adapter.resolve()), "-c", str(context_length), "--port", "8080"]
    return "#!/bin/sh\n# llama.cpp's server with the tuned adapter; point a registry entry at http://localhost:8080/v1\n" + shlex.join(command) + ' "$@"\n'


def write_serving_files(folder: Path, base: Path, adapter: Path, temperature: float, context_length: int) -> list[Path]:
    script, ollama = folder / SERVE_SCRIPT, folder / MODELFILE
    script.write_text(llama_server_script(base, adapter, context_length), encoding="utf-8")
    script.chmod(0o755)
    ollama.write_text(modelfile(base, adapter, temperature), encoding="utf-8")
    return [script, ollama]


# The values vLLM accepts for --max-lora-rank (its LoRAConfig); an adapter's rank must not exceed it.
VLLM_LORA_RANKS = (8, 16, 32, 64, 128, 256, 320, 512)
VLLM_PORT = 8000


def vllm_script(base: Path, adapter: Path, name: str, served_as: str, rank: int, context_length: int, port: int) -> str:
    """The vLLM command line serving the base folder and the tuned adapter beside it on one server."""
    max_rank = next((allowed for allowed in VLLM_LORA_RANKS if allowed >= rank), rank)
    command = ["vllm", "serve", str(base.resolve()), "--served-model-name", served_as, "--enable-lora",
               "--lora-modules", f"{name}={adapter.resolve()}", "--max-lora-rank", str(max_rank),
               "--max-model-len", str(context_length), "--port", str(port)]
    return (f"#!/bin/sh\n# vLLM with the tuned adapter: model '{served_as}' answers with the base weights, model '{name}' with the "
            f"tuned ones (an entry with model = \"{name}\")\n" + shlex.join(command) + ' "$@"\n')


def write_vllm_script(folder: Path, base: Path, adapter: Path, spec: ModelSpec, rank: int) -> Path:
    """serve.sh for an `hf` entry. The base is served under the entry's own model id and port, so the
    entry keeps working against it; the adapter is named after the run folder, so runs never clash."""
    urls = spec.urls()
    port = (urlparse(urls[0]).port if urls else None) or VLLM_PORT
    script = folder / SERVE_SCRIPT
    script.write_text(vllm_script(base, adapter, folder.name, spec.model or spec.name, rank, spec.context_length, port), encoding="utf-8")
    script.chmod(0o755)
    return script
