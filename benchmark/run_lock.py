"""One process per run directory: an advisory lock (``fcntl.flock``) beside it that names its holder.

The lock file is ``<method dir>/.<run-id>.lock`` (outside the run directory, so ``--overwrite`` can
move the directory away while holding it). The kernel drops the lock when its holder exits or is
killed, so a stale file never blocks anyone; its text only says who holds it (pid, host, since).
"""

from __future__ import annotations

import fcntl
import os
import socket
from collections.abc import Iterator
from contextlib import contextmanager
from datetime import datetime, timezone
from pathlib import Path

from xrec_bench.errors import UserError


def lock_path(run_dir: Path) -> Path:
    return run_dir.parent / f".{run_dir.name}.lock"


@contextmanager
def run_lock(run_dir: Path, *, wait: bool = False) -> Iterator[None]:
    """Hold the run directory's lock; without ``wait``, a held lock is a UserError naming its holder."""
    path = lock_path(run_dir)
    created = [folder for folder in (path.parent, *path.parent.parents) if not folder.exists()]
    path.parent.mkdir(parents=True, exist_ok=True)
    with open(path, "a+", encoding="utf-8") as handle:
        try:
            fcntl.flock(handle, fcntl.LOCK_EX | (0 if wait else fcntl.LOCK_NB))
        except BlockingIOError:
            handle.seek(0)
            holder = handle.read().strip() or "another process"
            raise UserError(f"{run_dir} is in use by {holder}; wait for that run to finish (or pass --wait "
                            f"to queue behind it) instead of running the same cell twice.") from None
        since = datetime.now(timezone.utc).strftime("%Y-%m-%dT%H:%M:%SZ")
        handle.seek(0)
        handle.truncate()
        handle.write(f"pid {os.getpid()} on {socket.gethostname()} since {since}\n")
        handle.flush()
        try:
            yield
        except BaseException:
            if not run_dir.exists():  # it failed before writing anything (bad input): leave no trace
                path.unlink(missing_ok=True)
                for folder in created:
                    try:
                        folder.rmdir()
                    except OSError:
                        break
            raise
        finally:
            handle.seek(0)
            handle.truncate()
            fcntl.flock(handle, fcntl.LOCK_UN)
