"""Writing files so that a reader (or a crash) never sees half of one, and others may read them.

A file is written beside its target, flushed, given the mode the umask allows (``mkstemp`` makes
0600; results and data files are meant to be shared), renamed over the target, and the directory
is fsynced so the rename itself survives a power cut.
"""

from __future__ import annotations

import os
import tempfile
from pathlib import Path


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


def atomic_write_text(path: Path, text: str) -> None:
    """Write to a temporary file beside ``path``, then rename: readers never see half a file."""
    path = Path(path)
    path.parent.mkdir(parents=True, exist_ok=True)
    handle, temporary = tempfile.mkstemp(dir=path.parent, prefix=f".{path.name}.")
    try:
        with os.fdopen(handle, "w", encoding="utf-8") as out:
            out.write(text)
            out.flush()
            os.fsync(out.fileno())
        replace_shareably(temporary, path)
    finally:
        if os.path.exists(temporary):
            os.unlink(temporary)
