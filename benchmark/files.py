"""Files a reader (or a crash) never sees half of, their sha256, and the stable hash of a config.

A file is written beside its target, flushed, given the mode the umask allows (``mkstemp`` makes
0600; results and data files are meant to be shared), renamed over the target, and the directory
is fsynced so the rename itself survives a power cut. A directory of files (a saved model, a
converted checkpoint) is filled under ``<name>.partial`` and renamed into place the same way.
"""

from __future__ import annotations

import hashlib
import json
import os
import shutil
import tempfile
from collections.abc import Iterator
from contextlib import contextmanager
from pathlib import Path
from typing import Any


def shareable_mode() -> int:
    """0666 less the process umask: the mode ``open()`` would give a new file."""
    umask = os.umask(0)
    os.umask(umask)
    return 0o666 & ~umask


def fsync_directory(path: Path) -> None:
    """Make the renames and deletions inside ``path`` durable."""
    try:
        handle = os.open(path, os.O_RDONLY | getattr(os, "O_DIRECTORY", 0))
    except OSError:
        return  # platforms that cannot open a directory have nothing to sync
    try:
        os.fsync(handle)
    except OSError:
        pass
    finally:
        os.close(handle)


def replace_shareably(temporary: Path | str, target: Path) -> None:
    """Give ``temporary`` the umask's mode, rename it over ``target`` and sync the directory."""
    os.chmod(temporary, shareable_mode())
    os.replace(temporary, target)
    fsync_directory(target.parent)


@contextmanager
def atomic_file(path: Path) -> Iterator[Path]:
    """A temporary path beside ``path`` to write (by any means); renamed over ``path`` when the block
    ends without an error, deleted otherwise."""
    path = Path(path)
    path.parent.mkdir(parents=True, exist_ok=True)
    handle, temporary = tempfile.mkstemp(dir=path.parent, prefix=f".{path.name}.")
    os.close(handle)
    try:
        yield Path(temporary)
        replace_shareably(temporary, path)
    finally:
        if os.path.exists(temporary):
            os.unlink(temporary)


def atomic_write_text(path: Path, text: str) -> None:
    """Write ``text`` (UTF-8) to ``path`` so that readers see the old file or the whole new one."""
    with atomic_file(path) as temporary, open(temporary, "w", encoding="utf-8") as out:
        out.write(text)
        out.flush()
        os.fsync(out.fileno())


def json_text(payload: Any) -> str:
    """The JSON xrec-bench writes: indented, keys sorted, non-ASCII kept, a final newline."""
    return json.dumps(payload, indent=2, sort_keys=True, ensure_ascii=False, default=str) + "\n"


def atomic_write_json(path: Path, payload: Any) -> None:
    atomic_write_text(path, json_text(payload))


@contextmanager
def staged_directory(target: Path) -> Iterator[Path]:
    """An empty ``<target>.partial`` to fill; when the block ends without an error it replaces
    ``target`` in one rename (a reader sees the old directory, none, or the whole new one)."""
    target = Path(target)
    staging = target.with_name(target.name + ".partial")
    shutil.rmtree(staging, ignore_errors=True)  # left by a process that was killed while filling it
    staging.mkdir(parents=True)
    try:
        yield staging
    except BaseException:
        shutil.rmtree(staging, ignore_errors=True)
        raise
    shutil.rmtree(target, ignore_errors=True)
    staging.rename(target)
    fsync_directory(target.parent)


def sha256_of(path: Path) -> str:
    """The sha256 of a file's bytes (hex), read in 1 MiB blocks."""
    digest = hashlib.sha256()
    with open(path, "rb") as handle:
        for block in iter(lambda: handle.read(1 << 20), b""):
            digest.update(block)
    return digest.hexdigest()


def config_hash(config: Any, length: int | None = None) -> str:
    """The sha256 (hex, cut to ``length``) of a JSON-like value, independent of key order."""
    digest = hashlib.sha256(json.dumps(config, sort_keys=True, default=str).encode()).hexdigest()
    return digest if length is None else digest[:length]
