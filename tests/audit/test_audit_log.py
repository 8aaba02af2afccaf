"""The office reads who did what to whose data."""
from __future__ import annotations

from academy.audit.services import record
from academy.extensions import db


def test_office_sees_and_filters_audit_entries(client, make, auth):
    admin, student = make.user("admin"), make.user("student", name="감사대상")
    record("personal_data.viewed", subject_user_id=student.id, actor_id=admin.id, detail={"what": "profile"})
    record("user.created", subject_user_id=student.id, actor_id=admin.id)
    db.session.commit()
    auth.login(admin)
    page = client.get("/admin/audit?action=personal_data").get_data(as_text=True)
    assert "personal_data.viewed" in page and "감사대상" in page
    assert "user.created" not in page
    page = client.get("/admin/audit?q=감사대상").get_data(as_text=True)
    assert "user.created" in page
