"""import-trainees (CLI and coordinator page): all rows or none, every bad row named by its line."""
from __future__ import annotations

import csv
import io
import re
from pathlib import Path

import pytest
import sqlalchemy as sa
from openpyxl import Workbook

from academy.admissions.models import Enrollment
from academy.admissions.services import CohortFull, enroll_new_trainees
from academy.audit.models import AuditEntry
from academy.auth.models import User
from academy.extensions import db

HEADER = ["name", "email", "university", "cohort_year", "cohort"]


def _csv(rows: list[list[object]], encoding: str = "utf-8", header: list[str] = HEADER) -> bytes:
    buffer = io.StringIO()
    csv.writer(buffer).writerows([header, *rows])
    return buffer.getvalue().encode(encoding)


def _xlsx(rows: list[list[object]], header: list[str] = HEADER) -> bytes:
    book = Workbook()
    sheet = book.active
    for row in [header, *rows]:
        sheet.append(row)
    buffer = io.BytesIO()
    book.save(buffer)
    return buffer.getvalue()


def _students() -> int:
    return db.session.scalar(sa.select(sa.func.count(User.id)).where(User.role == "student"))


@pytest.fixture
def cohort(make):
    university = make.university(code="GNU")
    return make.cohort(university=university, year=2027, name="2027-1", capacity=3)


def _good_rows() -> list[list[object]]:
    return [
        ["Kim Minji", "minji@example.test", "GNU", 2027, "2027-1"],
        ["Lee Jun", "Jun@Example.test", "gnu", "2027", ""],
    ]


def _invoke(runner, tmp_path: Path, name: str, data: bytes):
    path = tmp_path / name
    path.write_bytes(data)
    db.session.commit()
    return runner.invoke(args=["academy", "import-students", str(path)])


@pytest.mark.parametrize("kind", ["csv", "xlsx"])
def test_a_good_file_imports_and_enrols_every_row(runner, tmp_path, cohort, kind):
    data = _csv(_good_rows()) if kind == "csv" else _xlsx(_good_rows())
    result = _invoke(runner, tmp_path, f"trainees.{kind}", data)
    assert result.exit_code == 0, result.output
    assert "Imported 2 trainees" in result.output
    db.session.expire_all()
    emails = set(db.session.scalars(sa.select(User.email).where(User.role == "student")))
    assert emails == {"minji@example.test", "jun@example.test"}
    assert cohort.enrolled_count == 2
    assert db.session.scalar(sa.select(sa.func.count(Enrollment.id)).where(Enrollment.cohort_id == cohort.id)) == 2


def test_cp949_csv_with_korean_headers_works(runner, tmp_path, cohort):
    data = _csv([["김민지", "minji@example.test", "GNU", "2027", "2027-1"]], encoding="cp949",
                header=["이름", "이메일", "대학", "기수연도", "기수"])
    result = _invoke(runner, tmp_path, "명단.csv", data)
    assert result.exit_code == 0, result.output
    db.session.expire_all()
    assert db.session.scalar(sa.select(User.name).where(User.email == "minji@example.test")) == "김민지"
    assert cohort.enrolled_count == 1


BAD_ROWS = {
    "bad e-mail": (["Park Sora", "sora@@example", "GNU", "2027", "2027-1"], "is not valid"),
    "unknown cohort": (["Park Sora", "sora@example.test", "GNU", "2027", "2027-9"], "no such cohort"),
    "unknown university": (["Park Sora", "sora@example.test", "XYZ", "2027", "2027-1"], "unknown university"),
    "RRN": (["Park Sora 900101-1234567", "sora@example.test", "GNU", "2027", "2027-1"], "resident registration number"),
    "duplicate": (["Kim Again", "MINJI@example.test", "GNU", "2027", "2027-1"], "also appears on line 2"),
    "empty name": (["", "sora@example.test", "GNU", "2027", "2027-1"], "name is empty"),
    "bad year": (["Park Sora", "sora@example.test", "GNU", "next", "2027-1"], "cohort_year must be a year"),
}


@pytest.mark.parametrize("kind", ["csv", "xlsx"])
@pytest.mark.parametrize("case", sorted(BAD_ROWS))
def test_one_bad_row_imports_nothing_and_names_the_line(runner, tmp_path, cohort, case, kind):
    bad, message = BAD_ROWS[case]
    rows = [*_good_rows(), bad]
    data = _csv(rows) if kind == "csv" else _xlsx(rows)
    before = _students()
    result = _invoke(runner, tmp_path, f"trainees.{kind}", data)
    assert result.exit_code == 1
    assert "Nothing imported" in result.output
    assert "line 4: " in result.output and message in result.output, result.output
    assert "line 2:" not in result.output and "line 3:" not in result.output
    db.session.expire_all()
    assert _students() == before and cohort.enrolled_count == 0


def test_an_existing_account_and_over_capacity_are_reported(runner, tmp_path, make, cohort):
    make.user("student", email="taken@example.test")
    rows = [*_good_rows(), ["Taken", "taken@example.test", "GNU", "2027", "2027-1"],
            ["Fourth", "fourth@example.test", "GNU", "2027", "2027-1"]]
    result = _invoke(runner, tmp_path, "trainees.csv", _csv(rows))
    assert result.exit_code == 1
    assert "line 4: taken@example.test already has an account" in result.output
    assert "line 5: cohort 2027 2027-1 would exceed its capacity of 3" in result.output
    db.session.expire_all()
    assert _students() == 1 and cohort.enrolled_count == 0


def test_a_file_that_is_not_a_spreadsheet_is_refused(runner, tmp_path, cohort):
    result = _invoke(runner, tmp_path, "trainees.xlsx", b"not really a workbook")
    assert result.exit_code == 1 and "line 1: Not a readable XLSX file" in result.output
    missing = _invoke(runner, tmp_path, "trainees.csv", _csv([], header=["name", "email"]))
    assert missing.exit_code == 1 and "Missing column(s): university, cohort_year" in missing.output


def _upload(client, name: str, data: bytes):
    return client.post("/admissions/import", data={"file": (io.BytesIO(data), name)},
                       content_type="multipart/form-data")


def test_coordinator_imports_into_own_university_only(english, make, auth, cohort):
    coordinator = make.user("coordinator", university_id=cohort.university_id)
    other = make.cohort(year=2027, name="2027-1")
    auth.login(coordinator)
    assert english.get("/admissions/import").status_code == 200

    rows = [["Kim Minji", "minji@example.test", "GNU", "2027", "2027-1"],
            ["Park Sora", "sora@example.test", other.university.code, "2027", "2027-1"]]
    refused = _upload(english, "trainees.xlsx", _xlsx(rows))
    page = refused.get_data(as_text=True)
    assert refused.status_code == 422
    assert "Nothing was imported: 1 problem(s)" in page
    assert "<td>3</td><td>you may import only into your own university (GNU)</td>" in page
    db.session.expire_all()
    assert _students() == 0 and cohort.enrolled_count == 0 and other.enrolled_count == 0

    # Without a university column the coordinator's own university is meant.
    data = _csv([["Kim Minji", "minji@example.test", "2027", "2027-1"]], header=["name", "email", "cohort_year", "cohort"])
    done = _upload(english, "trainees.csv", data)
    page = done.get_data(as_text=True)
    assert done.status_code == 200 and "1 trainees imported and enrolled." in page
    assert "one-time link" in page and "/invitations" in page
    db.session.expire_all()
    assert cohort.enrolled_count == 1
    assert db.session.scalar(sa.select(User.role).where(User.email == "minji@example.test")) == "student"
    # The trainee signs in with a password they set through the invitation link the coordinator hands out.
    outbox = english.get("/invitations").get_data(as_text=True)
    link = re.search(r'value="http://localhost(/welcome/[^"]+)"', outbox).group(1)
    english.post("/logout")
    assert english.get(link).status_code == 302
    assert english.post("/welcome", data={"new": "blue-harbour-crane-27", "repeat": "blue-harbour-crane-27"}).status_code == 302
    signed_in = english.post("/login", data={"email": "minji@example.test", "password": "blue-harbour-crane-27"})
    assert signed_in.status_code == 302 and signed_in.headers["Location"].endswith("/")


def test_import_page_refuses_other_file_types(english, make, auth, cohort):
    auth.login(make.user("coordinator", university_id=cohort.university_id))
    response = _upload(english, "trainees.txt", b"name,email\n")
    assert response.status_code == 400 and "Use a .csv or .xlsx file." in response.get_data(as_text=True)
    assert _students() == 0


def test_seats_for_a_file_are_taken_all_or_none(make, cohort):
    make.enrolled_student(cohort)
    students = [make.user("student") for _ in range(3)]
    with pytest.raises(CohortFull):
        enroll_new_trainees(students, cohort)  # 3 wanted, 2 left
    db.session.expire_all()
    assert cohort.enrolled_count == 1
    assert len(enroll_new_trainees(students[:2], cohort)) == 2
    assert cohort.enrolled_count == 3


def test_an_import_is_audited_per_trainee(runner, tmp_path, cohort):
    assert _invoke(runner, tmp_path, "trainees.csv", _csv(_good_rows())).exit_code == 0
    actions = list(db.session.scalars(sa.select(AuditEntry.action).where(AuditEntry.subject_user_id.is_not(None))))
    assert sorted(actions) == ["enrollment.enrolled"] * 2 + ["invitation.created"] * 2 + ["user.created"] * 2
