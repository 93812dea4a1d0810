"""How to serve a tuned model wherever a user runs one: the files a tune run leaves beside adapter.gguf.

    embedded      `lora = "runs/<id>/adapter.gguf"` on the entry, or `--adapter` on eval/optimize/probe
    llama-server  serve.sh: `llama-server -m BASE.gguf --lora adapter.gguf`
    Ollama        Modelfile: FROM the same base file, ADAPTER the adapter (`ollama create NAME -f Modelfile`)
    LM Studio     loads no adapters: `smolopt tune --merge` writes merged.gguf, base and delta in one file
"""

from __future__ import annotations

import shlex
from pathlib import Path

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
