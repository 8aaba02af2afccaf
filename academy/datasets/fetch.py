"""Put catalogued datasets into a data directory, checking every byte, never leaving half a dataset behind.

A dataset is assembled in a hidden temporary folder beside its target, verified file by file, and only then renamed
into place, so a reader of the data directory sees either the old complete copy or the new complete copy.
"""

from __future__ import annotations

import hashlib
import shutil
import tempfile
import urllib.error
import urllib.parse
import urllib.request
from collections.abc import Callable
from pathlib import Path

from .catalogue import DataFile, Dataset, checksum_list, sha256_of, source_note

CHUNK = 1 << 16
USER_AGENT = "academy-datasets/1 (+https://github.com/)"


class DatasetError(Exception):
    """A dataset could not be fetched, imported or verified."""


class MissingFile(DatasetError):
    """A catalogued file is not where it should be."""


class ChecksumMismatch(DatasetError):
    """A file's size or sha256 differs from the catalogue."""


def check_file(dataset: Dataset, entry: DataFile, path: Path) -> None:
    """Raise unless the file at path has the catalogued size and sha256."""
    where = f"{dataset.id}/{entry.path}"
    if not path.is_file():
        raise MissingFile(f"{where}: file is missing ({path})")
    size = path.stat().st_size
    if size != entry.size:
        raise ChecksumMismatch(f"{where}: size {size} bytes, catalogue says {entry.size}")
    digest = sha256_of(path)
    if digest != entry.sha256:
        raise ChecksumMismatch(f"{where}: sha256 {digest}, catalogue says {entry.sha256}")


def verify_dataset(dataset: Dataset, data_dir: Path) -> list[str]:
    """Return one problem line per missing or corrupted file of an installed dataset (empty when all is well)."""
    problems = []
    for entry in dataset.files:
        try:
            check_file(dataset, entry, data_dir / dataset.id / entry.path)
        except DatasetError as exc:
            problems.append(str(exc))
    return problems


def _install(dataset: Dataset, data_dir: Path, fill: Callable[[Path], None]) -> Path:
    """Build the dataset in a temporary folder with fill(), verify it, then swap it into place."""
    data_dir.mkdir(parents=True, exist_ok=True)
    target = data_dir / dataset.id
    staging = Path(tempfile.mkdtemp(prefix=f".{dataset.id}.partial-", dir=data_dir))
    try:
        fill(staging)
        for entry in dataset.files:
            if entry.generated:
                (staging / entry.path).write_bytes(checksum_list(dataset))
            check_file(dataset, entry, staging / entry.path)
        if not (staging / "SOURCE.md").exists():
            (staging / "SOURCE.md").write_text(source_note(dataset), encoding="utf-8")
        if target.exists():
            # Two renames keep a complete copy in place at every moment, even if we die in between.
            old = Path(tempfile.mkdtemp(prefix=f".{dataset.id}.old-", dir=data_dir))
            old.rmdir()
            target.rename(old)
            staging.rename(target)
            shutil.rmtree(old, ignore_errors=True)
        else:
            staging.rename(target)
    except BaseException:
        shutil.rmtree(staging, ignore_errors=True)
        raise
    return target


def import_dataset(dataset: Dataset, source_root: Path, data_dir: Path) -> Path:
    """Copy a dataset from a local folder laid out as <source_root>/<id>/<files>, verifying every file."""
    source = source_root / dataset.id

    def fill(staging: Path) -> None:
        if not source.is_dir():
            raise MissingFile(f"{dataset.id}: folder {source} does not exist")
        for entry in dataset.files:
            if entry.generated:
                continue
            src = source / entry.path
            # Check the source before copying so the error names the source file, not the staging copy.
            check_file(dataset, entry, src)
            dest = staging / entry.path
            dest.parent.mkdir(parents=True, exist_ok=True)
            shutil.copyfile(src, dest)
        if (source / "SOURCE.md").is_file():
            shutil.copyfile(source / "SOURCE.md", staging / "SOURCE.md")

    return _install(dataset, data_dir, fill)


def file_urls(dataset: Dataset, entry: DataFile) -> list[str]:
    """Return the download URLs of a file, in the order to try them."""
    base = dataset.download if dataset.download.endswith("/") else dataset.download + "/"
    return [base + urllib.parse.quote(src) for src in entry.sources]


def _download(url: str, dest: Path, entry: DataFile, timeout: float) -> None:
    """Stream one URL into dest while hashing it; raise ChecksumMismatch when the bytes are wrong."""
    request = urllib.request.Request(url, headers={"User-Agent": USER_AGENT})
    digest = hashlib.sha256()
    size = 0
    with urllib.request.urlopen(request, timeout=timeout) as response, open(dest, "wb") as out:
        while chunk := response.read(CHUNK):
            size += len(chunk)
            if size > entry.size:
                raise ChecksumMismatch(f"{url}: more than the catalogued {entry.size} bytes")
            digest.update(chunk)
            out.write(chunk)
    if size != entry.size or digest.hexdigest() != entry.sha256:
        raise ChecksumMismatch(f"{url}: got {size} bytes with sha256 {digest.hexdigest()}, "
                               f"catalogue says {entry.size} bytes, {entry.sha256}")


def download_dataset(dataset: Dataset, data_dir: Path, timeout: float = 60.0,
                     progress: Callable[[str], None] | None = None) -> Path:
    """Download every file of a dataset from its catalogued address, verifying each one."""

    def fill(staging: Path) -> None:
        for entry in dataset.files:
            if entry.generated:
                continue
            dest = staging / entry.path
            dest.parent.mkdir(parents=True, exist_ok=True)
            failures = []
            for url in file_urls(dataset, entry):
                try:
                    _download(url, dest, entry, timeout)
                    break
                except urllib.error.HTTPError as exc:
                    # A 404 on one mirror path is expected where files were split across folders upstream.
                    failures.append(f"{url}: HTTP {exc.code}")
                except (urllib.error.URLError, OSError) as exc:
                    failures.append(f"{url}: {exc}")
            else:
                raise MissingFile(f"{dataset.id}/{entry.path}: could not download it ({'; '.join(failures)}). "
                                  f"Get the dataset from {dataset.homepage} and import it with --from DIR.")
            if progress:
                progress(entry.path)

    return _install(dataset, data_dir, fill)
