"""One course, one nbgrader folder: its gradebook, formgrader and grade sync are that course's alone."""
from __future__ import annotations

import pytest
import sqlalchemy as sa
from flask_babel import force_locale
from flask_migrate import downgrade, upgrade

from academy.audit.models import AuditEntry
from academy.courses.models import Course
from academy.courses.services import BadFolderName, FolderTaken, link_nbgrader_folder
from academy.extensions import db


def test_the_portal_refuses_to_link_a_second_course_to_a_folder(make):
    """Checked: fails when link_nbgrader_folder no longer looks for another course on the folder (the
    database's unique constraint then answers instead, with a generic message)."""
    first = make.course(code="MAI-101", nbgrader_course="manufacturing-ai")
    second = make.course(code="MAI-102", nbgrader_course="mai-2028")
    with pytest.raises(FolderTaken) as refused:
        link_nbgrader_folder(second, "manufacturing-ai")
    with force_locale("en"):
        assert "already belongs to course MAI-101" in str(refused.value)
    with force_locale("ko"):
        assert "이미 MAI-101 과정의 폴더입니다" in str(refused.value)
    assert (first.nbgrader_course, second.nbgrader_course) == ("manufacturing-ai", "mai-2028")


def test_a_course_moves_to_a_free_folder_and_the_move_is_audited(make):
    course = make.course(code="PY-100", nbgrader_course="python-basics")
    link_nbgrader_folder(course, "python-basics-2027")
    db.session.commit()
    entry = db.session.scalar(sa.select(AuditEntry).where(AuditEntry.action == "course.folder_linked"))
    assert course.nbgrader_course == "python-basics-2027" and entry.object_id == course.id


@pytest.mark.parametrize("folder", ["", "Upper", "../x", "a b", "x" * 61, "dot.ted"])
def test_a_folder_name_unfit_for_a_path_or_url_is_refused(make, folder):
    with pytest.raises(BadFolderName):
        link_nbgrader_folder(make.course(nbgrader_course="fine-folder"), folder)


def test_the_database_refuses_two_courses_on_one_folder(make):
    """Whatever path writes courses (seed, import, a script), the constraint holds.

    Checked: fails without the unique constraint on courses.nbgrader_course (model and migration).
    """
    make.course(code="A-1", nbgrader_course="shared-folder")
    db.session.add(Course(code="A-2", title_ko="둘", title_en="Two", nbgrader_course="shared-folder"))
    with pytest.raises(sa.exc.IntegrityError):
        db.session.flush()
    db.session.rollback()


def test_the_command_says_why_in_korean_and_english(runner, make):
    make.course(code="MAI-101", nbgrader_course="manufacturing-ai")
    make.course(code="PY-100", nbgrader_course="python-basics")
    db.session.commit()
    refused = runner.invoke(args=["grading", "link-folder", "PY-100", "manufacturing-ai"])
    assert refused.exit_code == 1
    assert "이미 MAI-101 과정의 폴더입니다" in refused.output and "already belongs to course MAI-101" in refused.output
    moved = runner.invoke(args=["grading", "link-folder", "PY-100", "python-basics-v2"])
    assert moved.exit_code == 0 and "restart JupyterHub" in moved.output
    assert runner.invoke(args=["grading", "link-folder", "NOPE", "x"]).exit_code == 1


def test_the_migration_splits_courses_that_shared_a_folder(app, tmp_path, capsys):
    """A database from before (the demo seed put MAI-101 and PY-100 on one folder) upgrades cleanly."""
    if db.engine.url.get_backend_name() != "sqlite":
        pytest.skip("the migration's data step is the same SQL on both; run on a scratch SQLite file")
    target = f"sqlite:///{tmp_path / 'before.sqlite'}"
    engine = sa.create_engine(target)
    original = db.engines[None]
    db.engines[None] = engine  # type: ignore[index]
    try:
        upgrade(revision="c58626744cfc")
        with engine.begin() as conn:
            for cid, code in ((1, "MAI-101"), (2, "PY-100"), (3, "OTHER")):
                folder = "other" if code == "OTHER" else "manufacturing-ai"
                conn.execute(sa.text("INSERT INTO courses (id, code, title_ko, title_en, nbgrader_course, "
                                     "late_percent_per_day, late_max_deduction, late_cutoff_days) "
                                     "VALUES (:i, :c, 't', 't', :f, 10, 50, 7)"), {"i": cid, "c": code, "f": folder})
            conn.execute(sa.text("INSERT INTO assignments (id, course_id, nbgrader_name, title_ko, title_en, week, "
                                 "max_points, needs_gpu) VALUES (1, 2, 'lab1', 't', 't', 1, 10, 0)"))
        upgrade()
        with engine.connect() as conn:
            folders = dict(conn.execute(sa.text("SELECT code, nbgrader_course FROM courses")).all())
        downgrade(revision="c58626744cfc")
    finally:
        db.engines[None] = original  # type: ignore[index]
        engine.dispose()
    # The course with assignments keeps the folder; the other is re-linked and the operator told.
    assert folders == {"MAI-101": "manufacturing-ai-c1", "PY-100": "manufacturing-ai", "OTHER": "other"}
    assert "course MAI-101 shared the nbgrader folder manufacturing-ai" in capsys.readouterr().out
