"""A copy that lost a file tree's folder (zip and some sync tools drop empty folders) restores whole, never half.

How checked: without the missing-source case in _replace_tree the restore stopped with FileNotFoundError after
the database had been replaced (a reviewer's finding).
"""
from __future__ import annotations

import json
import shutil

from academy.backup.services import _seal
from academy.extensions import db
from academy.universities.models import University


def test_a_backup_whose_tree_folder_was_lost_restores_everything(shared_site, tmp_path):
    site = shared_site
    site.fill_files()
    folder = site.backups / "lost-tree"
    assert site.cli("backup", str(folder)).exit_code == 0
    before = site.picture()
    # The copy tool kept no certificates folder (as if it had been empty): no file of it, no folder.
    shutil.rmtree(folder / "files" / "certificates")
    manifest = json.loads((folder / "MANIFEST.json").read_text())
    manifest["files"] = [f for f in manifest["files"] if not f["path"].startswith("files/certificates/")]
    manifest["manifest_sha256"] = _seal({k: v for k, v in manifest.items() if k != "manifest_sha256"})
    (folder / "MANIFEST.json").write_text(json.dumps(manifest))
    db.session.add(University(code="LATE", name_ko="나중 대학", name_en="Later University", city="changwon"))
    db.session.commit()
    result = site.cli("restore", "--yes", str(folder))
    assert result.exit_code == 0, result.output
    after = site.picture()
    [restored] = [row for row in after["rows"]["audit_entries"] if "'backup.restored'" in row]
    after["rows"]["audit_entries"].remove(restored)
    assert after["rows"] == before["rows"] and after["grades"] == before["grades"]  # the database came back
    lost = {p for p in before["files"] if p.startswith("certificates/")}
    assert lost and not any(p.startswith("certificates/") for p in after["files"])  # the lost tree is empty ...
    assert after["files"] == {p: h for p, h in before["files"].items() if p not in lost}  # ... the rest is back
