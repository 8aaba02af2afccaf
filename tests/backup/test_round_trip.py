"""Fill, back up, wipe (or change), restore: every row, row count, file checksum and gradebook row is as before.

Runs on the run's database kind: PostgreSQL (pg_dump/pg_restore) in scripts/test.sh's PostgreSQL stage, SQLite
(the backup API) in its SQLite stage.
"""
from __future__ import annotations

import json
import shutil
from pathlib import Path

import sqlalchemy as sa

from academy.audit.models import AuditEntry
from academy.auth.models import User
from academy.extensions import db
from academy.universities.models import University


def _fill(site) -> None:
    result = site.cli("seed-demo", "--password", "blue-harbour-crane-27")
    assert result.exit_code == 0, result.output
    site.fill_files()


def _wipe(site) -> None:
    """Lose everything: the database's tables, the stored files, the gradebook."""
    db.session.remove()
    if db.engine.dialect.name == "postgresql":
        with db.engine.begin() as conn:
            conn.execute(sa.text("DROP SCHEMA public CASCADE"))
            conn.execute(sa.text("CREATE SCHEMA public"))
    else:
        db.engine.dispose()
        Path(db.engine.url.database).unlink()
    for tree in ("submissions", "certificates", "gradebooks"):
        shutil.rmtree(site.var / tree)
    db.engine.dispose()


def _restored_as_before(site, before: dict) -> None:
    after = site.picture()
    restored = [row for row in after["rows"]["audit_entries"] if "'backup.restored'" in row]
    assert len(restored) == 1  # the restore itself is on record in the restored history
    after["rows"]["audit_entries"].remove(restored[0])
    assert {t: len(r) for t, r in after["rows"].items()} == {t: len(r) for t, r in before["rows"].items()}
    assert after == before


def test_fill_back_up_wipe_restore_gives_every_row_and_file_back(site):
    _fill(site)
    before = site.picture()
    assert sum(map(len, before["rows"].values())) > 2000 and len(before["files"]) == 4 and len(before["grades"]) == 2

    result = site.cli("backup", str(site.backups / "nightly"))
    assert result.exit_code == 0, result.output
    kind = db.engine.dialect.name
    assert f"database ({kind}):" in result.output and "gradebook manufacturing-ai (sqlite): " in result.output
    assert "submissions: 3 files" in result.output and "certificates: 1 files" in result.output
    assert (site.backups / "nightly").stat().st_mode & 0o077 == 0  # personal data: the owner's only
    manifest = json.loads((site.backups / "nightly" / "MANIFEST.json").read_text())
    assert manifest["database"]["kind"] == kind
    assert manifest["database"]["row_counts"] == site.counts()
    assert {f["path"] for f in manifest["files"]} >= {
        "files/submissions/1/7/1/files/lab01.ipynb", "files/certificates/2027/trainee-7.pdf",
        "gradebooks/manufacturing-ai.sqlite", manifest["database"]["file"]}

    _wipe(site)
    assert site.files() == {} and site.grades() is None

    result = site.cli("restore", "--yes", str(site.backups / "nightly"))
    assert result.exit_code == 0, result.output
    assert "row counts: all" in result.output
    _restored_as_before(site, before)


def test_restore_undoes_changes_made_after_the_backup(site):
    _fill(site)
    site.put("submissions/.incoming/0123/half.ipynb", b"{")  # an upload in flight is not kept
    before = site.picture()
    del before["files"]["submissions/.incoming/0123/half.ipynb"]
    assert site.cli("backup", str(site.backups / "b")).exit_code == 0

    db.session.execute(sa.delete(AuditEntry).where(AuditEntry.id > 10))
    db.session.add(University(code="NEW", name_ko="새 대학", name_en="New University", city="jinju"))
    db.session.execute(sa.update(User).where(User.role == "student").values(name="바뀐 이름"))
    db.session.commit()
    site.put("submissions/1/7/1/files/lab01.ipynb", b"changed")
    site.put("submissions/9/9/9/files/new.ipynb", b"{}")
    (site.var / "certificates" / "2027" / "trainee-7.pdf").unlink()
    shutil.rmtree(site.gradebook.parent)

    result = site.cli("restore", str(site.backups / "b"), input="y\n")
    assert result.exit_code == 0, result.output
    _restored_as_before(site, before)


def test_backup_refuses_a_folder_that_is_not_empty(site):
    (site.backups / "used").mkdir(parents=True)
    (site.backups / "used" / "notes.txt").write_text("keep me")
    result = site.cli("backup", str(site.backups / "used"))
    assert result.exit_code == 1 and "not an empty folder" in result.output
    assert [p.name for p in (site.backups / "used").iterdir()] == ["notes.txt"]
