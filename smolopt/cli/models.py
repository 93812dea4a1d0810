"""`smolopt models`: registry entries, whether each is reachable now, what its server offers (and,
for Ollama, its version: token logprobs came in 0.12.11), and what kind of model it is (base or
instruct; whether it has a chat template, read from an embedded model's GGUF where the entry does
not say)."""

from __future__ import annotations

import argparse

from smolopt.cli.console import console


def add_parser(sub) -> None:
    sub.add_parser("models", help="list the models in the registry, whether each is reachable and what it offers").set_defaults(func=cmd_models)

def cmd_models(args: argparse.Namespace) -> int:
    from smolopt.backends.status import model_status
    from smolopt.backends.weights import with_gguf_facts
    from smolopt.errors import SmoloptError
    from smolopt.registry import load_registry
    from smolopt.report import kind_cell, offers_cell, rich_table

    registry = load_registry(args.registry)
    rows = []
    for spec in registry.models.values():
        try:
            spec = with_gguf_facts(spec)
        except SmoloptError:
            pass  # missing weights: the status column says so
        found = model_status(spec)
        role = " (default)" if spec.name == registry.default_student else (" (reflection)" if spec.name == registry.default_reflection else "")
        provider = f"{spec.provider} {found.version}" if found.version else spec.provider
        rows.append((spec.name + role, provider, kind_cell(spec.variant, spec.chat_template), found.serves, found.where, found.status,
                     offers_cell(found.declared, found.found)))
    console.print(rich_table(f"models in {registry.path}", ["name", "provider", "model", "serves", "where", "status", "offers"], rows))
    return 0
