"""Flag checks the commands share."""

from __future__ import annotations

from smolopt.errors import SmoloptError


def refuse_with_resume(resume: object, flags: dict[str, object]) -> None:
    """--resume continues a run as it was configured: any other flag given with it would be ignored, so it is an error."""
    given = [flag for flag, value in flags.items() if value is not None]
    if given:
        raise SmoloptError(f"--resume continues {resume} as it was configured; drop {', '.join(given)}")
