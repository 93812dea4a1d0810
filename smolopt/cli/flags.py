"""Flag checks the commands share."""

from __future__ import annotations

import argparse

from smolopt.errors import SmoloptError


def refuse_with_resume(resume: object, flags: dict[str, object]) -> None:
    """--resume continues a run as it was configured: any other flag given with it would be ignored, so it is an error."""
    given = [flag for flag, value in flags.items() if value is not None]
    if given:
        raise SmoloptError(f"--resume continues {resume} as it was configured; drop {', '.join(given)}")


def registry_reflection(args: argparse.Namespace) -> str | None:
    """The registry's [defaults] reflection model."""
    from smolopt.registry import load_registry

    return load_registry(args.registry).default_reflection


def chosen_judge(args: argparse.Namespace) -> str | None:
    """--judge NAME, 'none', or by default the registry's reflection model (the source article's judge was its teacher)."""
    if args.judge == "none":
        return None
    return args.judge or registry_reflection(args)
