"""A backup that does not verify is refused with a clear error and a non-zero exit, and nothing changes.

Each protection was checked once by removing it from academy/backup/services.py (the test then restored the
damaged backup, or failed to say why): the sha256 comparison (tampered file), the presence check (missing file),
the walk for unlisted files (extra file), the manifest's own sha256 (edited manifest), the revision check.
"""
from __future__ import annotations

import json
import shutil
from pathlib import Path

import pytest

from academy.backup.databases import pg_tool
from academy.backup.errors import BackupError
from academy.backup.services import _seal
from academy.extensions import db
from academy.universities.models import University


@pytest.fixture(scope="module")
def made(shared_site) -> Path:
    """A backup of a small academy, then changes after it, so that any restore would show."""
    site = shared_site
    db.session.add(University(code="GNU", name_ko="경상국립대학교", name_en="Gyeongsang National University",
                              city="jinju"))
    db.session.commit()
    site.fill_files()
    folder = site.backups / "made"
    result = site.cli("backup", str(folder))
    assert result.exit_code == 0, result.output
    db.session.add(University(code="LATE", name_ko="나중 대학", name_en="Later University", city="changwon"))
    db.session.commit()
    site.put("submissions/1/7/1/files/lab01.ipynb", b'{"changed": "after the backup"}')
    return folder


@pytest.fixture
def site(shared_site):
    return shared_site


@pytest.fixture
def backup(made, tmp_path) -> Path:
    """This test's own copy of the backup, to damage."""
    return Path(shutil.copytree(made, tmp_path / "b"))


def _refused(site, folder: Path, *expected: str) -> None:
    before = site.picture()
    result = site.cli("restore", "--yes", str(folder))
    assert result.exit_code == 1, result.output
    assert "nothing was changed" in result.output
    for words in expected:
        assert words in result.output
    assert site.picture() == before


def _manifest(folder: Path) -> dict:
    return json.loads((folder / "MANIFEST.json").read_text())


def _write_manifest(folder: Path, manifest: dict, *, reseal: bool) -> None:
    if reseal:
        manifest["manifest_sha256"] = _seal({k: v for k, v in manifest.items() if k != "manifest_sha256"})
    (folder / "MANIFEST.json").write_text(json.dumps(manifest))


def test_a_tampered_file_is_refused(site, backup):
    copy = backup / "files" / "submissions" / "1" / "7" / "1" / "files" / "lab01.ipynb"
    data = bytearray(copy.read_bytes())
    data[0] ^= 1  # same size, other content
    copy.write_bytes(bytes(data))
    _refused(site, backup, "files/submissions/1/7/1/files/lab01.ipynb: content changed")


def test_a_truncated_database_copy_is_refused(site, backup):
    dump = backup / _manifest(backup)["database"]["file"]
    dump.write_bytes(dump.read_bytes()[:-100])
    _refused(site, backup, f"{_manifest(backup)['database']['file']}: size")


def test_a_missing_file_is_refused(site, backup):
    (backup / "files" / "certificates" / "2027" / "trainee-7.pdf").unlink()
    _refused(site, backup, "files/certificates/2027/trainee-7.pdf: missing")


def test_an_extra_file_is_refused(site, backup):
    (backup / "files" / "submissions" / "1" / "7" / "1" / "files" / "planted.py").write_text("import os")
    _refused(site, backup, "files/submissions/1/7/1/files/planted.py: not in the manifest")


def test_a_manifest_edited_to_match_a_tampered_file_is_refused(site, backup):
    copy = backup / "files" / "certificates" / "2027" / "trainee-7.pdf"
    copy.write_bytes(b"%PDF-1.7 forged certificate")
    manifest = _manifest(backup)
    entry = next(f for f in manifest["files"] if f["path"] == "files/certificates/2027/trainee-7.pdf")
    entry.update(size=copy.stat().st_size, sha256=__import__("hashlib").sha256(copy.read_bytes()).hexdigest())
    _write_manifest(backup, manifest, reseal=False)
    _refused(site, backup, "MANIFEST.json was edited or damaged")


def test_a_manifest_that_is_not_json_is_refused(site, backup):
    (backup / "MANIFEST.json").write_text('{"format": 1,')
    _refused(site, backup, "MANIFEST.json is not valid JSON")


def test_a_backup_of_an_older_schema_says_what_to_do(site, backup):
    manifest = _manifest(backup)
    manifest["database"]["revision"] = "3c0f47ad7de0"  # an earlier migration of this code
    _write_manifest(backup, manifest, reseal=True)
    _refused(site, backup, "revision 3c0f47ad7de0", "db upgrade")


def test_a_backup_of_an_unknown_schema_is_refused(site, backup):
    manifest = _manifest(backup)
    manifest["database"]["revision"] = "ffffffffffff"
    _write_manifest(backup, manifest, reseal=True)
    _refused(site, backup, "revision ffffffffffff is unknown to this code")


def test_a_restore_not_confirmed_changes_nothing(site, backup):
    before = site.picture()
    result = site.cli("restore", str(backup), input="n\n")
    assert result.exit_code == 1 and "Continue?" in result.output
    assert site.picture() == before


def test_a_postgresql_client_of_another_version_is_refused_with_what_to_install():
    with pytest.raises(BackupError, match="install Debian's postgresql-client-99"):
        pg_tool("pg_dump", 99)
