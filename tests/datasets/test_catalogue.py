"""The catalogue describes exactly the files of the shared datasets, and every syllabus dataset is in it."""

from __future__ import annotations

import hashlib
import tomllib
from pathlib import Path

import pytest

from academy import config
from academy.datasets import catalogue as cat
from academy.datasets import verify_dataset

CATALOGUE = cat.load_catalogue()


def test_catalogue_lists_every_shared_dataset(shared_data: Path) -> None:
    """Check the catalogue and the shared folder name the same eight datasets."""
    on_disk = {p.name for p in shared_data.iterdir() if p.is_dir()}
    assert set(CATALOGUE) == on_disk
    assert len(CATALOGUE) == 8


@pytest.mark.parametrize("dataset_id", sorted(CATALOGUE))
def test_checksums_verify_against_shared_copy(dataset_id: str, shared_data: Path) -> None:
    """Check every catalogued file of the shared copy has the catalogued size and sha256."""
    assert verify_dataset(CATALOGUE[dataset_id], shared_data) == []


@pytest.mark.parametrize("dataset_id", sorted(CATALOGUE))
def test_catalogue_covers_every_data_file(dataset_id: str, shared_data: Path) -> None:
    """Check no data file of the shared copy is left out of the catalogue."""
    folder = shared_data / dataset_id
    on_disk = {p.relative_to(folder).as_posix() for p in folder.rglob("*") if p.is_file()} - {"SOURCE.md"}
    assert {f.path for f in CATALOGUE[dataset_id].files} == on_disk


@pytest.mark.parametrize("dataset_id", sorted(CATALOGUE))
def test_entries_name_authority_licence_citation_and_address(dataset_id: str) -> None:
    """Check each entry says who publishes it, on what terms, how to cite it and where it comes from."""
    ds = CATALOGUE[dataset_id]
    for field in (ds.name, ds.authority, ds.licence, ds.citation):
        assert len(field) > 10
    assert ds.homepage.startswith(("http://", "https://"))
    assert ds.download.startswith("https://") and ds.download.endswith("/")
    assert all(len(f.sha256) == 64 and f.size > 0 for f in ds.files)
    assert all(f.sources or f.generated for f in ds.files), "every file needs an upstream path or a generator"


def test_simulated_datasets_are_marked() -> None:
    """Check the two simulated datasets are flagged so notebooks can say so."""
    assert {i for i, d in CATALOGUE.items() if d.simulated} == {"ai4i2020", "cmapss_fd001"}


def test_neu_det_checksum_list_is_rebuilt_exactly(shared_data: Path) -> None:
    """Check the SHA256SUMS written from the catalogue equals the shared one byte for byte."""
    ds = CATALOGUE["neu_det"]
    generated = [f for f in ds.files if f.generated]
    assert [f.path for f in generated] == ["SHA256SUMS"]
    content = cat.checksum_list(ds)
    assert content == (shared_data / "neu_det" / "SHA256SUMS").read_bytes()
    assert hashlib.sha256(content).hexdigest() == generated[0].sha256
    assert len(content.splitlines()) == 3600


def test_neu_det_files_try_both_upstream_folders() -> None:
    """Check NEU-DET files fall back to the validation folders their upstream split them into."""
    image = next(f for f in CATALOGUE["neu_det"].files if f.path == "images/crazing_166.jpg")
    assert image.sources == ("IMAGES/crazing_166.jpg", "Validation_Images/crazing_166.jpg")


def test_every_syllabus_dataset_is_catalogued() -> None:
    """Check each lab's datasets (its `dataset` and any `extra_datasets`) can be fetched by the catalogue."""
    syllabus = cat.REPO_ROOT / "courses" / "manufacturing-ai" / "syllabus.toml"
    with open(syllabus, "rb") as f:
        labs = tomllib.load(f)["assignment"]
    used = {a["dataset"] for a in labs} | {extra for a in labs for extra in a.get("extra_datasets", [])}
    assert "cwru_bearing_12k_de_loads" in used  # lab 5 grades on it
    assert used <= set(CATALOGUE)


def test_cwru_loads_files_come_from_their_speed_folders() -> None:
    """Check each 0 HP / 3 HP file is fetched from the upstream folder of its shaft speed.

    Checked: fails when a 1730 rpm file points at the 1797 RPM folder.
    """
    files = {f.path: f.sources for f in CATALOGUE["cwru_bearing_12k_de_loads"].files}
    assert len(files) == 9
    assert files["1730_IR_21_DE12.npz"] == ("Data/1730 RPM/1730_IR_21_DE12.npz",)
    assert files["1797_OR@6_21_DE12.npz"] == ("Data/1797 RPM/1797_OR@6_21_DE12.npz",)
    assert all(src[0] == f"Data/{path[:4]} RPM/{path}" for path, src in files.items())


def test_default_data_dir(monkeypatch: pytest.MonkeyPatch, tmp_path: Path) -> None:
    """Check ACADEMY_DATA_DIR wins and var/data of the repository is the fallback (the portal's DATA_DIR)."""
    monkeypatch.setenv("ACADEMY_DATA_DIR", str(tmp_path))
    assert config.data_dir() == tmp_path
    monkeypatch.delenv("ACADEMY_DATA_DIR")
    assert config.data_dir() == cat.REPO_ROOT / "var" / "data"
