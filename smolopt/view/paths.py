"""The one rule for every path the view opens: it must lie inside the runs folder.

A URL names a run and a file by strings a browser (or anyone) sends, so `..`, an absolute path,
a percent-encoded slash or a symlink could point anywhere. Resolving first (symlinks followed)
and then requiring the result to sit under the resolved runs folder refuses all of them alike.
"""

from __future__ import annotations

from pathlib import Path


def inside(folder: Path, *parts: str) -> Path | None:
    """`folder/parts…` resolved, or None when it lies outside `folder` (or is `folder` itself)."""
    base = folder.resolve()
    try:
        target = base.joinpath(*parts).resolve()
    except (OSError, ValueError):  # a NUL byte, a symlink loop
        return None
    return target if target != base and target.is_relative_to(base) else None
