"""Getting the XRec release files into the data root, verified against the packaged manifest.

Data root: ``$XREC_BENCH_DATA`` (default ``~/.cache/xrec-bench/data``), one folder per dataset.
Source: ``--source`` (a directory or URL), else ``$XREC_BENCH_MIRROR``, else the upstream
repository HKUDS/XRec (raw files, and Git LFS media for the large ones).

A file already in the data root is trusted only after its size and sha256 match the manifest: it is
verified when a process first uses it, and the verdict (the sha256 computed) is remembered per
(path, size, mtime, inode) in the process and under ``<cache>/verified/data/``, as model files are.
"""

from __future__ import annotations

import csv
import hashlib
import os
import shutil
import urllib.error
import urllib.request
from dataclasses import dataclass
from importlib import resources
from pathlib import Path

from xrec_bench.errors import UserError
from xrec_bench.files import atomic_file, atomic_write_text, sha256_of
from xrec_bench.models import cache_root

UPSTREAM_RAW = "https://raw.githubusercontent.com/HKUDS/XRec/main/data"
UPSTREAM_LFS = "https://media.githubusercontent.com/media/HKUDS/XRec/main/data"
# The files a full run can use; a run asks only for those it needs.
LFS_SIZE_THRESHOLD = 4 * 1024 * 1024  # upstream keeps larger files in Git LFS
# This process's verdicts: path -> (size, mtime_ns, inode, sha256 computed).
_VERDICTS: dict[Path, tuple[int, int, int, str]] = {}


@dataclass(frozen=True)
class ManifestEntry:
    dataset: str
    file: str
    sha256: str | None
    size: int | None


def manifest() -> dict[tuple[str, str], ManifestEntry]:
    text = resources.files("xrec_bench.data").joinpath("manifest.tsv").read_text(encoding="utf-8")
    entries = {}
    for row in csv.DictReader(text.splitlines(), delimiter="\t"):
        sha = None if row["sha256"] == "-" else row["sha256"]
        size = None if row["bytes"] == "-" else int(row["bytes"])
        entries[(row["dataset"], row["file"])] = ManifestEntry(row["dataset"], row["file"], sha, size)
    return entries


def data_root() -> Path:
    return Path(os.environ.get("XREC_BENCH_DATA", Path.home() / ".cache" / "xrec-bench" / "data"))


def default_source() -> str:
    return os.environ.get("XREC_BENCH_MIRROR", "") or "upstream"


def _copy_from(source: str, dataset: str, name: str, entry: ManifestEntry | None, target: Path) -> None:
    """Copy or download one file into a temporary path beside ``target``, then rename it into place."""
    with atomic_file(target) as temporary:
        if source == "upstream":
            lfs = entry is not None and entry.size is not None and entry.size > LFS_SIZE_THRESHOLD
            url = f"{UPSTREAM_LFS if lfs else UPSTREAM_RAW}/{dataset}/{name}"
            _download(url, temporary)
        elif "://" in source:
            _download(f"{source.rstrip('/')}/{dataset}/{name}", temporary)
        else:
            origin = Path(source).expanduser() / dataset / name
            if not origin.is_file():
                raise FileNotFoundError(origin)
            shutil.copyfile(origin, temporary)
        if entry is not None and entry.sha256 is not None:
            actual = sha256_of(temporary)
            if actual != entry.sha256:
                raise UserError(f"{dataset}/{name} from {source} has sha256 {actual}, not the "
                                f"manifest's {entry.sha256}; refusing it (the source is corrupt or "
                                f"a different release).")
    if entry is not None and entry.sha256 is not None:
        _remember(target, entry.sha256)


def _download(url: str, destination: Path) -> None:
    try:
        with urllib.request.urlopen(url, timeout=60) as response, open(destination, "wb") as out:
            shutil.copyfileobj(response, out)
    except (urllib.error.URLError, TimeoutError, OSError) as exc:
        raise FileNotFoundError(f"{url} ({exc})") from None


def _verdict_marker(path: Path, stat: os.stat_result) -> Path:
    where = hashlib.sha256(str(path.resolve()).encode("utf-8")).hexdigest()[:16]
    return cache_root() / "verified" / "data" / f"{where}-{stat.st_size}-{stat.st_mtime_ns}-{stat.st_ino}"


def _remember(path: Path, digest: str) -> None:
    stat = path.stat()
    _VERDICTS[path] = (stat.st_size, stat.st_mtime_ns, stat.st_ino, digest)
    marker = _verdict_marker(path, stat)
    try:
        atomic_write_text(marker, digest)  # a process reading it meanwhile never sees it empty
    except OSError:
        pass  # an unwritable cache only costs a re-hash in the next process


def file_sha256(path: Path) -> str:
    """The sha256 of a data-root file, computed once per (size, mtime, inode) and remembered."""
    stat = path.stat()
    known = _VERDICTS.get(path)
    if known is not None and known[:3] == (stat.st_size, stat.st_mtime_ns, stat.st_ino):
        return known[3]
    marker = _verdict_marker(path, stat)
    # (an empty marker is one that a non-atomic write of an earlier version left half-written)
    digest = (marker.read_text(encoding="ascii").strip() if marker.is_file() else "") or sha256_of(path)
    _remember(path, digest)
    return digest


def mismatch(entry: ManifestEntry, path: Path) -> str | None:
    """How a file in the data root differs from its manifest entry (size first: cheap), or None."""
    if entry.size is not None and path.stat().st_size != entry.size:
        return f"has {path.stat().st_size:,} bytes, not the manifest's {entry.size:,}"
    if entry.sha256 is not None and (actual := file_sha256(path)) != entry.sha256:
        return f"has sha256 {actual}, not the manifest's {entry.sha256}"
    return None


def ensure_file(dataset: str, name: str, source: str | None = None) -> Path:
    """The path of a verified release file in the data root, fetching it first if it is missing."""
    entries = manifest()
    entry = entries.get((dataset, name))
    if entry is None:
        raise UserError(f"{name} is not a file of the XRec {dataset} release; see `xrec-bench data info`.")
    target = data_root() / dataset / name
    if target.is_file():
        problem = mismatch(entry, target)
        if problem is not None:
            raise UserError(f"{dataset}/{name} in the data root {data_root()} {problem} (edited, truncated or "
                            f"another release); run `xrec-bench data fetch {dataset}` to replace it.")
        return target
    _fetch(dataset, name, entry, source or default_source(), "is not in")
    return target


def _fetch(dataset: str, name: str, entry: ManifestEntry, source: str, why: str) -> None:
    """Copy one file from ``source`` into the data root; ``why`` says how the data root lacks it."""
    try:
        _copy_from(source, dataset, name, entry, data_root() / dataset / name)
    except FileNotFoundError as exc:
        lfs = " (upstream keeps it in Git LFS)" if entry.size is None or entry.size > LFS_SIZE_THRESHOLD else ""
        raise UserError(
            f"{dataset}/{name} {why} the data root {data_root()} and could not be fetched from "
            f"{source} ({exc}); run `xrec-bench data fetch {dataset} --source DIR_OR_URL` with a copy "
            f"of the XRec release{lfs}, or set XREC_BENCH_MIRROR."
        ) from None


def release_folders() -> list[str]:
    """The release folders the packaged manifest lists (one per upstream dataset)."""
    return sorted({dataset for dataset, _ in manifest()})


def available_files(dataset: str) -> list[str]:
    """The manifest's files for a dataset that have a checksum (so can be verified)."""
    return sorted(name for (ds, name), e in manifest().items() if ds == dataset and e.sha256)


def fetch_dataset(dataset: str, source: str | None = None, files: list[str] | None = None,
                  required: tuple[str, ...] = ("tst.pkl",)) -> dict[str, str]:
    """Fetch every verifiable file of a dataset that the source has; return file → status."""
    if dataset not in release_folders():
        raise UserError(f"Unknown release dataset {dataset!r}; choose one of: {', '.join(release_folders())}.")
    status = {}
    for name in files or available_files(dataset):
        target = data_root() / dataset / name
        entry = manifest().get((dataset, name))
        problem = mismatch(entry, target) if entry is not None and target.is_file() else None
        if target.is_file() and problem is None:
            status[name] = "present"
            continue
        try:
            if problem is not None:
                _fetch(dataset, name, entry, source or default_source(), f"{problem} in")
                status[name] = f"replaced (the copy in the data root {problem})"
                continue
            ensure_file(dataset, name, source)
            status[name] = "fetched"
        except UserError:
            if name in required or files:
                raise
            status[name] = (f"{'corrupt, ' + problem + '; ' if problem else ''}"
                            f"not available from {source or default_source()}")
    return status
