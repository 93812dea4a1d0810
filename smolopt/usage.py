"""How to use what a run shipped: the Python lines, the `smolopt serve --program` line, and the kinds
of server that can ask the model the way the program was measured.

One value (`Usage`: where program.json is, the task's fields, the model, the adapter, the formats)
and one text builder (`usage_section`), which the optimize and tune reports end with and the
console prints as lines (`usage_lines`), so report.md and the terminal say the same.

A scored format ("completion score", "… calibrated") reads each label's token log-probability; a
server without logprobs (LM Studio) would generate and parse the answer instead, which is not what
the run measured, so the section names the kinds that run the program as measured
(smolopt.server_kinds) and those that do not, with why.
"""

from __future__ import annotations

import json
import os
import shlex
from dataclasses import dataclass
from pathlib import Path
from typing import Any

from smolopt.adapters.formats import parse_format
from smolopt.report import Report, Section
from smolopt.server_kinds import KINDS, Capability
from smolopt.serving import PORT

TITLE = "How to use it"

# What a report calls each kind of server (smolopt.server_kinds keys them by provider).
KIND_TITLES = {"embedded": "llama.cpp embedded by smolopt", "llamacpp": "llama-server", "vllm": "vLLM", "lmstudio": "LM Studio",
               "ollama": "Ollama (its native API, 0.12.11+)", "openai": "hosted APIs"}
WHY_NOT: dict[Capability, str] = {
    "logprobs": "no token logprobs, which scored answers need: it would generate and parse them instead",
    "completions": "no plain-text completions, which completion formats need",
    "chat": "no chat turns, which chat formats need",
}
# The kinds that put tuned weights on their base: an adapter.gguf (llama.cpp's --lora_path and --lora,
# Ollama's ADAPTER) or an hf tune's peft folder (vLLM's --lora-modules). LM Studio loads neither.
LOADS_ADAPTER = {"gguf": ("embedded", "llamacpp", "ollama"), "peft": ("vllm",)}


@dataclass(frozen=True)
class Usage:
    """A shipped program as a user meets it: the file, the fields it takes and gives, who answers."""

    program: Path  # its program.json
    task: str
    inputs: tuple[str, ...]
    outputs: tuple[str, ...]
    model: str  # the registry entry that serves it
    adapter: Path | None = None  # the LoRA adapter program.json records (served with it)
    formats: tuple[str, ...] = ()  # each predictor's format, as text ("completion score calibrated")
    labels: tuple[str, ...] | None = None

    def to_json(self) -> dict[str, Any]:
        """The description `smolopt serve --program` answers GET / with."""
        return {"task": self.task, "inputs": list(self.inputs), "outputs": list(self.outputs), "labels": list(self.labels) if self.labels else None,
                "model": self.model, "adapter": str(self.adapter) if self.adapter else None, "formats": list(self.formats),
                "program": str(self.program)}

    def needs(self) -> set[Capability]:
        """What a server must offer to ask the model as the program was measured."""
        return {need for text in self.formats for need in parse_format(text).needs}  # type: ignore[misc]

    @property
    def on_vllm(self) -> bool:
        """Tuned weights in a peft folder (a tune of an `hf` entry): vLLM serves them, at an entry the user names."""
        return self.adapter is not None and self.adapter.is_dir()


def shown_path(path: Path) -> str:
    """A path as a user types it from where the run was started: relative when inside this folder."""
    resolved, here = path.resolve(), Path.cwd().resolve()
    return os.path.relpath(resolved, here) if resolved.is_relative_to(here) else str(resolved)


def servers_text(usage: Usage) -> str:
    """Which kinds of server run the program as measured, and which do not, with why."""
    needed = usage.needs()
    runs, not_runs = [], []
    for name, kind in KINDS.items():
        why = next((WHY_NOT[need] for need in WHY_NOT if need in needed and need not in kind.offers), None)
        if why is None and usage.adapter is not None and name not in LOADS_ADAPTER["peft" if usage.on_vllm else "gguf"]:
            why = f"it loads no {'peft adapter folder' if usage.on_vllm else 'adapter.gguf'}" + (
                "; `smolopt tune --merge` writes merged.gguf for it" if name == "lmstudio" else "")
        if why:
            not_runs.append(f"{KIND_TITLES[name]} ({why})")
        else:
            runs.append(KIND_TITLES[name])
    text = f"runs as measured on {', '.join(runs)}"
    if not_runs:
        text += f"; not on {'; '.join(not_runs)}"
    if usage.on_vllm:
        text += (f". Its tuned weights (the peft folder {usage.adapter.name}/) are served by vLLM with the serve.sh beside it: name an "
                 f"entry with model = '{usage.program.parent.name}' at that server")
    elif usage.adapter is not None:
        text += (f". Its tuned weights ({usage.adapter.name}) are put on the embedded model for you; llama-server and Ollama "
                 "load them with the serve.sh and Modelfile beside it")
    return text


def usage_rows(usage: Usage) -> list[list[str]]:
    """(how, what to type) for Python, HTTP and servers."""
    path = shown_path(usage.program)
    example = ", ".join(f'{name}="…"' for name in usage.inputs)
    body = json.dumps({name: "…" for name in usage.inputs}, ensure_ascii=False)
    model, flag = (', model="ENTRY"', " --model ENTRY") if usage.on_vllm else ("", "")
    python = f"with smolopt.load_program({json.dumps(path)}{model}) as program: print(program({example}).{usage.outputs[0]})"
    http = (f"smolopt serve --program {shlex.quote(path)}{flag}, then POST http://127.0.0.1:{PORT}/predict {body} "
            f"answers {{\"{usage.outputs[0]}\": …}}")
    return [["Python", python], ["HTTP", http], ["servers", servers_text(usage)]]


def usage_section(usage: Usage) -> Section:
    """The "How to use it" section that ends the optimize and tune reports."""
    adapter = f" with {usage.adapter.name}{'/' if usage.on_vllm else ''}" if usage.adapter else ""
    note = (f"Measured on '{usage.model}'{adapter}, asked as {' / '.join(dict.fromkeys(usage.formats))}. smolopt starts an embedded "
            "model's server for the program and stops it with the program; any other entry's server must be running.")
    return Section(TITLE, ["from", "how"], usage_rows(usage), note)


def usage_lines(usage: Usage) -> list[str]:
    """The same, as the lines a command prints last (one per way, unwrapped, to copy)."""
    return [f"{how}: {text}" for how, text in usage_rows(usage)]


def without_usage(report: Report) -> Report:
    """The report for the terminal, which ends with `usage_lines` instead of the section."""
    return Report(report.title, report.facts, [section for section in report.sections if section.title != TITLE])
