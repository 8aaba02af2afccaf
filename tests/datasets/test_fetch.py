"""Fetching and importing datasets: verified bytes in place, clear errors, nothing half-written left behind."""

from __future__ import annotations

import dataclasses
import hashlib
import shutil
import subprocess
import sys
from pathlib import Path

import pytest
from click.testing import CliRunner

from academy.datasets import ChecksumMismatch, MissingFile, catalogue as cat, cli, download_dataset, verify_dataset
from academy.datasets.catalogue import DataFile

CATALOGUE = cat.load_catalogue()


def leftovers(data_dir: Path) -> list[str]:
    """Return hidden staging or backup folders left in a data directory."""
    return [p.name for p in data_dir.iterdir() if p.name.startswith(".")] if data_dir.exists() else []


def run(args: list[str]) -> tuple[int, str]:
    """Run the datasets command group and return (exit code, combined output)."""
    result = CliRunner().invoke(cli.datasets, args, catch_exceptions=False)
    return result.exit_code, result.output


def flip_byte(path: Path, offset: int = 100) -> None:
    """Corrupt a file in place by inverting one byte."""
    data = bytearray(path.read_bytes())
    data[offset] ^= 0xFF
    path.write_bytes(bytes(data))


def test_fetch_from_folder_installs_and_verifies(small_copy: Path, tmp_path: Path) -> None:
    """Import two datasets from a local folder; both verify and nothing else is left."""
    data = tmp_path / "data"
    code, out = run(["fetch", "--from", str(small_copy), "--only", "ai4i2020", "--only", "steel_plates_faults",
                     "--data-dir", str(data)])
    assert code == 0, out
    assert sorted(p.name for p in data.iterdir()) == ["ai4i2020", "steel_plates_faults"]
    for dataset_id in ("ai4i2020", "steel_plates_faults"):
        assert verify_dataset(CATALOGUE[dataset_id], data) == []
    assert (data / "ai4i2020" / "SOURCE.md").read_text() == (small_copy / "ai4i2020" / "SOURCE.md").read_text()
    code, out = run(["verify", "--only", "ai4i2020", "--data-dir", str(data)])
    assert code == 0 and "ok   ai4i2020" in out
    code, out = run(["fetch", "--from", str(small_copy), "--only", "ai4i2020", "--data-dir", str(data)])
    assert code == 0 and "already installed" in out


def test_cli_imports_and_verifies_the_cwru_loads_files(shared_data: Path, tmp_path: Path) -> None:
    """Import the 0 HP / 3 HP CWRU files from the shared folder with the CLI; all nine verify.

    Checked: fails when one catalogued sha256 of the new entry is wrong.
    """
    data = tmp_path / "data"
    code, out = run(["fetch", "--from", str(shared_data), "--only", "cwru_bearing_12k_de_loads", "--data-dir", str(data)])
    assert code == 0 and "done cwru_bearing_12k_de_loads" in out, out
    assert verify_dataset(CATALOGUE["cwru_bearing_12k_de_loads"], data) == []
    assert len(list((data / "cwru_bearing_12k_de_loads").glob("*.npz"))) == 9
    assert "1730 rpm" in (data / "cwru_bearing_12k_de_loads" / "SOURCE.md").read_text()
    code, out = run(["verify", "--only", "cwru_bearing_12k_de_loads", "--data-dir", str(data)])
    assert code == 0 and "ok   cwru_bearing_12k_de_loads (9 files)" in out


def test_import_refuses_corrupted_copy(small_copy: Path, tmp_path: Path) -> None:
    """Refuse a copy with one flipped byte, name the file, and leave nothing behind."""
    flip_byte(small_copy / "steel_plates_faults" / "Faults.NNA")
    data = tmp_path / "data"
    code, out = run(["fetch", "--from", str(small_copy), "--only", "steel_plates_faults", "--data-dir", str(data)])
    assert code != 0
    assert "steel_plates_faults/Faults.NNA" in out and "sha256" in out
    assert not (data / "steel_plates_faults").exists()
    assert leftovers(data) == []


def test_failed_reimport_keeps_the_good_copy(small_copy: Path, tmp_path: Path) -> None:
    """A forced re-import from a corrupted source leaves the installed, verified copy untouched."""
    data = tmp_path / "data"
    assert run(["fetch", "--from", str(small_copy), "--only", "ai4i2020", "--data-dir", str(data)])[0] == 0
    flip_byte(small_copy / "ai4i2020" / "ai4i2020.csv", offset=5000)
    code, out = run(["fetch", "--from", str(small_copy), "--only", "ai4i2020", "--data-dir", str(data), "--force"])
    assert code != 0 and "ai4i2020/ai4i2020.csv" in out
    assert verify_dataset(CATALOGUE["ai4i2020"], data) == []
    assert leftovers(data) == []


def test_missing_file_is_a_clear_error(small_copy: Path, tmp_path: Path) -> None:
    """Name the missing file when the source folder lacks one."""
    (small_copy / "steel_plates_faults" / "Faults27x7_var").unlink()
    data = tmp_path / "data"
    code, out = run(["fetch", "--from", str(small_copy), "--only", "steel_plates_faults", "--data-dir", str(data)])
    assert code != 0
    assert "steel_plates_faults/Faults27x7_var" in out and "missing" in out
    assert not (data / "steel_plates_faults").exists() and leftovers(data) == []


def test_verify_reports_a_corrupted_install(small_copy: Path, tmp_path: Path) -> None:
    """Fail verification and name the file after someone edits an installed file."""
    data = tmp_path / "data"
    assert run(["fetch", "--from", str(small_copy), "--only", "ai4i2020", "--data-dir", str(data)])[0] == 0
    flip_byte(data / "ai4i2020" / "ai4i2020.csv")
    code, out = run(["verify", "--only", "ai4i2020", "--data-dir", str(data)])
    assert code != 0 and "FAIL ai4i2020" in out and "ai4i2020.csv" in out


def test_unknown_dataset_id_is_refused(tmp_path: Path) -> None:
    """Refuse an id the catalogue does not know, listing the known ones."""
    result = CliRunner().invoke(cli.datasets, ["verify", "--only", "nope", "--data-dir", str(tmp_path)])
    assert result.exit_code != 0 and "ai4i2020" in result.output


def serve_upstream(www: Path, dataset_id: str, shared_data: Path) -> None:
    """Lay out a dataset's files in www the way its upstream repository does (first candidate path)."""
    for entry in CATALOGUE[dataset_id].files:
        if entry.generated:
            continue
        dest = www / entry.sources[0]
        dest.parent.mkdir(parents=True, exist_ok=True)
        shutil.copyfile(shared_data / dataset_id / entry.path, dest)


def test_network_fetch_from_local_server(http_root: tuple[Path, str], shared_data: Path, tmp_path: Path,
                                         monkeypatch: pytest.MonkeyPatch) -> None:
    """Download a dataset over HTTP through the CLI, verifying checksums, with no --from."""
    www, base = http_root
    for dataset_id in ("ai4i2020", "cwru_bearing_12k_de_0hp"):  # cwru: a space and '@' in upstream paths
        serve_upstream(www, dataset_id, shared_data)
    local = {i: dataclasses.replace(d, download=base) for i, d in CATALOGUE.items()}
    monkeypatch.setattr(cli, "load_catalogue", lambda: local)
    data = tmp_path / "data"
    code, out = run(["fetch", "--only", "ai4i2020", "--only", "cwru_bearing_12k_de_0hp", "--data-dir", str(data)])
    assert code == 0, out
    for dataset_id in ("ai4i2020", "cwru_bearing_12k_de_0hp"):
        assert verify_dataset(local[dataset_id], data) == []
        assert "Fetched from" in (data / dataset_id / "SOURCE.md").read_text()
    assert leftovers(data) == []


def test_network_fetch_falls_back_and_writes_checksum_list(http_root: tuple[Path, str], shared_data: Path,
                                                         tmp_path: Path) -> None:
    """Try the second upstream folder on a 404 and write a generated SHA256SUMS that verifies."""
    www, base = http_root
    neu = CATALOGUE["neu_det"]
    picked = [f for f in neu.files if f.path in ("images/crazing_1.jpg", "annotations/crazing_1.xml")]
    (www / "IMAGES").mkdir()
    shutil.copyfile(shared_data / "neu_det" / "images/crazing_1.jpg", www / "IMAGES" / "crazing_1.jpg")
    (www / "Validation_Annotations").mkdir()  # only the second candidate exists for the XML
    shutil.copyfile(shared_data / "neu_det" / "annotations/crazing_1.xml",
                    www / "Validation_Annotations" / "crazing_1.xml")
    listing = "".join(f"{f.sha256}  {f.path}\n" for f in picked).encode()
    sums = DataFile("SHA256SUMS", len(listing), hashlib.sha256(listing).hexdigest(), generated=True)
    tiny = dataclasses.replace(neu, download=base, files=(*picked, sums))
    target = download_dataset(tiny, tmp_path / "data")
    assert verify_dataset(tiny, tmp_path / "data") == []
    assert (target / "SHA256SUMS").read_bytes() == listing


def test_network_fetch_refuses_wrong_bytes(http_root: tuple[Path, str], shared_data: Path, tmp_path: Path) -> None:
    """Refuse a download whose bytes differ from the catalogue, leaving nothing behind."""
    www, base = http_root
    serve_upstream(www, "steel_plates_faults", shared_data)
    flip_byte(www / "Faults.NNA")
    remote = dataclasses.replace(CATALOGUE["steel_plates_faults"], download=base)
    data = tmp_path / "data"
    with pytest.raises(ChecksumMismatch, match="Faults.NNA"):
        download_dataset(remote, data)
    assert not (data / "steel_plates_faults").exists() and leftovers(data) == []


def test_network_fetch_missing_everywhere_says_what_to_do(http_root: tuple[Path, str], tmp_path: Path) -> None:
    """Name the file, the URLs tried and the --from way out when no upstream path answers."""
    _, base = http_root
    remote = dataclasses.replace(CATALOGUE["ai4i2020"], download=base)
    with pytest.raises(MissingFile, match=r"ai4i2020/ai4i2020.csv.*HTTP 404.*--from"):
        download_dataset(remote, tmp_path / "data")
    assert leftovers(tmp_path / "data") == []


def test_runs_as_a_module(shared_data: Path) -> None:
    """Run `python -m academy.datasets verify` against the shared copy."""
    proc = subprocess.run(
        [sys.executable, "-m", "academy.datasets", "verify", "--only", "steel_plates_faults",
         "--data-dir", str(shared_data)],
        cwd=cat.REPO_ROOT, capture_output=True, text=True, timeout=120,
    )
    assert proc.returncode == 0, proc.stderr
    assert "ok   steel_plates_faults" in proc.stdout
