"""Getting the XRec release files into the data root, verified against the packaged manifest.

Data root: ``$XREC_BENCH_DATA`` (default ``~/.cache/xrec-bench/data``), one folder per dataset.
Source: ``--source`` (a directory or URL), else ``$XREC_BENCH_MIRROR``, else the upstream
repository HKUDS/XRec (raw files, and Git LFS media for the large ones).
"""

from __future__ import annotations

import csv
import os
import shutil
import tempfile
import urllib.error
import urllib.request
from dataclasses import dataclass
from importlib import resources
from pathlib import Path

from benchmark.errors import UserError
from benchmark.models import sha256_of

UPSTREAM_RAW = "https://raw.githubusercontent.com/HKUDS/XRec/main/data"
UPSTREAM_LFS = "https://media.githubusercontent.com/media/HKUDS/XRec/main/data"
RELEASE_DATASETS = ("amazon", "google", "yelp")
# The files a full run can use; a run asks only for those it needs.
LFS_SIZE_THRESHOLD = 4 * 1024 * 1024  # upstream keeps larger files in Git LFS


@dataclass(frozen=True)
class ManifestEntry:
    dataset: str
    file: str
    sha256: str | None
    size: int | None


def manifest() -> dict[tuple[str, str], ManifestEntry]:
    text = resources.files("benchmark.data").joinpath("manifest.tsv").read_text(encoding="utf-8")
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
    target.parent.mkdir(parents=True, exist_ok=True)
    handle, temporary = tempfile.mkstemp(dir=target.parent, prefix=f".{name}.")
    os.close(handle)
    try:
        if source == "upstream":
            lfs = entry is not None and entry.size is not None and entry.size > LFS_SIZE_THRESHOLD
            url = f"{UPSTREAM_LFS if lfs else UPSTREAM_RAW}/{dataset}/{name}"
            _download(url, Path(temporary))
        elif "://" in source:
            _download(f"{source.rstrip('/')}/{dataset}/{name}", Path(temporary))
        else:
            origin = Path(source).expanduser() / dataset / name
            if not origin.is_file():
                raise FileNotFoundError(origin)
            shutil.copyfile(origin, temporary)
        if entry is not None and entry.sha256 is not None:
            actual = sha256_of(Path(temporary))
            if actual != entry.sha256:
                raise UserError(f"{dataset}/{name} from {source} has sha256 {actual}, not the "
                                f"manifest's {entry.sha256}; refusing it (the source is corrupt or "
                                f"a different release).")
        os.replace(temporary, target)
    finally:
        if os.path.exists(temporary):
            os.unlink(temporary)


def _download(url: str, destination: Path) -> None:
    try:
        with urllib.request.urlopen(url, timeout=60) as response, open(destination, "wb") as out:
            shutil.copyfileobj(response, out)
    except (urllib.error.URLError, TimeoutError, OSError) as exc:
        raise FileNotFoundError(f"{url} ({exc})") from None


def ensure_file(dataset: str, name: str, source: str | None = None) -> Path:
    """The path of a release file in the data root, fetching and verifying it first if it is missing."""
    entries = manifest()
    entry = entries.get((dataset, name))
    if entry is None:
        raise UserError(f"{name} is not a file of the XRec {dataset} release; see `xrec-bench data info`.")
    target = data_root() / dataset / name
    if target.is_file():
        return target
    source = source or default_source()
    try:
        _copy_from(source, dataset, name, entry, target)
    except FileNotFoundError as exc:
        lfs = " (upstream keeps it in Git LFS)" if entry.size is None or entry.size > LFS_SIZE_THRESHOLD else ""
        raise UserError(
            f"{dataset}/{name} is not in the data root {data_root()} and could not be fetched from "
            f"{source} ({exc}); run `xrec-bench data fetch {dataset} --source DIR_OR_URL` with a copy "
            f"of the XRec release{lfs}, or set XREC_BENCH_MIRROR."
        ) from None
    return target


def available_files(dataset: str) -> list[str]:
    """The manifest's files for a dataset that have a checksum (so can be verified)."""
    return sorted(name for (ds, name), e in manifest().items() if ds == dataset and e.sha256)


def fetch_dataset(dataset: str, source: str | None = None, files: list[str] | None = None,
                  required: tuple[str, ...] = ("tst.pkl",)) -> dict[str, str]:
    """Fetch every verifiable file of a dataset that the source has; return file → status."""
    if dataset not in RELEASE_DATASETS:
        raise UserError(f"Unknown release dataset {dataset!r}; choose one of: {', '.join(RELEASE_DATASETS)}.")
    status = {}
    for name in files or available_files(dataset):
        if (data_root() / dataset / name).is_file():
            status[name] = "present"
            continue
        try:
            ensure_file(dataset, name, source)
            status[name] = "fetched"
        except UserError:
            if name in required or files:
                raise
            status[name] = f"not available from {source or default_source()}"
    return status
