"""The catalogue of real datasets: who publishes them, under what terms, and the exact bytes of every file."""

from __future__ import annotations

import hashlib
import tomllib
from dataclasses import dataclass
from pathlib import Path

CATALOGUE_FILE = Path(__file__).with_name("catalogue.toml")
REPO_ROOT = Path(__file__).resolve().parents[2]


@dataclass(frozen=True)
class DataFile:
    """One file of a dataset, relative to the dataset's folder."""

    path: str
    size: int
    sha256: str
    # Upstream paths relative to the dataset's download address, tried in order.
    sources: tuple[str, ...] = ()
    # True when the file is written from the catalogue itself (e.g. a checksum list) rather than downloaded.
    generated: bool = False


@dataclass(frozen=True)
class Dataset:
    """A dataset as the catalogue describes it."""

    id: str
    name: str
    authority: str
    homepage: str
    licence: str
    citation: str
    simulated: bool
    download: str
    notes: str
    files: tuple[DataFile, ...]

    @property
    def total_size(self) -> int:
        """Return the number of bytes of all its files."""
        return sum(f.size for f in self.files)


def _upstream_paths(path: str, explicit: list[str] | None, source_map: dict[str, list[str]]) -> tuple[str, ...]:
    """Return the upstream candidates of a file: explicit ones, else the mapped prefix, else the path itself."""
    if explicit:
        return tuple(explicit)
    # Longest local prefix wins, so "images/" beats "".
    for prefix in sorted(source_map, key=len, reverse=True):
        if path.startswith(prefix):
            rest = path[len(prefix):]
            return tuple(upstream + rest for upstream in source_map[prefix])
    return (path,)


def load_catalogue(path: Path = CATALOGUE_FILE) -> dict[str, Dataset]:
    """Read the catalogue file and return the datasets by id."""
    with open(path, "rb") as f:
        raw = tomllib.load(f)
    datasets = {}
    for entry in raw["dataset"]:
        source_map = entry.get("source_map", {})
        files = tuple(
            DataFile(
                path=f["path"],
                size=int(f["size"]),
                sha256=f["sha256"],
                sources=() if f.get("generated") else _upstream_paths(f["path"], f.get("sources"), source_map),
                generated=bool(f.get("generated", False)),
            )
            for f in entry["files"]
        )
        datasets[entry["id"]] = Dataset(
            id=entry["id"],
            name=entry["name"],
            authority=entry["authority"],
            homepage=entry["homepage"],
            licence=entry["licence"],
            citation=entry["citation"],
            simulated=bool(entry["simulated"]),
            download=entry["download"],
            notes=entry.get("notes", ""),
            files=files,
        )
    return datasets


def sha256_of(path: Path) -> str:
    """Return the hex sha256 of a file, read in chunks."""
    digest = hashlib.sha256()
    with open(path, "rb") as f:
        for chunk in iter(lambda: f.read(1 << 20), b""):
            digest.update(chunk)
    return digest.hexdigest()


def checksum_list(dataset: Dataset) -> bytes:
    """Return the content of a generated SHA256SUMS: one "sha256  path" line per downloaded file."""
    lines = [f"{f.sha256}  {f.path}\n" for f in dataset.files if not f.generated]
    return "".join(lines).encode()


def source_note(dataset: Dataset) -> str:
    """Return a SOURCE.md text for a dataset fetched from the network."""
    kind = "simulated (synthetic)" if dataset.simulated else "real measurements"
    return (
        f"# {dataset.name}\n\n"
        f"- **Authority:** {dataset.authority} ({dataset.homepage})\n"
        f"- **Licence:** {dataset.licence}\n"
        f"- **Cite:** {dataset.citation}\n"
        f"- **Nature of the data:** {kind}\n"
        f"- **Fetched from:** {dataset.download}\n"
        f"- **Notes:** {dataset.notes}\n\n"
        "Written by `datasets fetch` from academy/datasets/catalogue.toml; every file was checked against its sha256.\n"
    )
