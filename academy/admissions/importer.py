"""Import trainees from CSV or XLSX, all or nothing.

Columns (header row, Korean or English names): name/이름, email/이메일, university/대학 (code),
cohort_year/기수연도, cohort/기수 (optional when the university has one cohort that year).
Every row is checked before anything is written; one bad row means nothing is imported and
every problem is reported with its line number.
"""
from __future__ import annotations

import csv
import io
import secrets
from dataclasses import dataclass, field
from pathlib import Path

import sqlalchemy as sa
from email_validator import EmailNotValidError, validate_email

from academy.admissions.services import enroll
from academy.auth.models import User
from academy.auth.services import create_user, normalize_email
from academy.extensions import db
from academy.universities.models import Cohort, University
from academy.validators import looks_like_rrn

MAX_ROWS = 5000
MAX_CELL = 300
ALIASES = {
    "name": "name", "이름": "name", "성명": "name",
    "email": "email", "e-mail": "email", "이메일": "email",
    "university": "university", "대학": "university", "대학교": "university",
    "cohort_year": "cohort_year", "year": "cohort_year", "기수연도": "cohort_year", "연도": "cohort_year",
    "cohort": "cohort", "기수": "cohort",
}
REQUIRED = ("name", "email", "university", "cohort_year")


@dataclass
class Problem:
    line: int
    message: str


class ImportRejected(Exception):
    def __init__(self, problems: list[Problem]):
        super().__init__(f"{len(problems)} problem(s)")
        self.problems = problems


@dataclass
class ImportResult:
    created: int = 0
    enrolled: int = 0
    passwords: dict[str, str] = field(default_factory=dict)


def _decode(raw: bytes) -> str:
    # Korean Excel saves CSV as CP949; everything else should be UTF-8 (with or without BOM).
    for encoding in ("utf-8-sig", "cp949"):
        try:
            return raw.decode(encoding)
        except UnicodeDecodeError:
            continue
    raise ImportRejected([Problem(1, "the file is neither UTF-8 nor CP949 text")])


def read_rows(path: Path) -> list[list[str]]:
    """Return the file's rows as lists of strings (the header first)."""
    if path.suffix.lower() == ".xlsx":
        from openpyxl import load_workbook

        try:
            sheet = load_workbook(path, read_only=True, data_only=True).active
        except Exception as exc:  # a broken or disguised file
            raise ImportRejected([Problem(1, f"not a readable XLSX file ({exc.__class__.__name__})")]) from exc
        return [["" if v is None else str(v).strip() for v in row] for row in sheet.iter_rows(values_only=True)]
    if path.suffix.lower() != ".csv":
        raise ImportRejected([Problem(1, "use a .csv or .xlsx file")])
    return [[cell.strip() for cell in row] for row in csv.reader(io.StringIO(_decode(path.read_bytes())))]


def import_students_file(path: Path) -> ImportResult:
    """Validate every row, then create and enrol all trainees in one transaction."""
    rows = read_rows(path)
    if not rows:
        raise ImportRejected([Problem(1, "the file is empty")])
    header = [ALIASES.get(h.strip().lower(), h.strip().lower()) for h in rows[0]]
    missing = [c for c in REQUIRED if c not in header]
    if missing:
        raise ImportRejected([Problem(1, f"missing column(s): {', '.join(missing)}")])
    if len(rows) - 1 > MAX_ROWS:
        raise ImportRejected([Problem(1, f"at most {MAX_ROWS} rows per file")])

    universities = {u.code.lower(): u for u in db.session.scalars(sa.select(University))}
    existing_emails = set(db.session.scalars(sa.select(User.email)))
    problems: list[Problem] = []
    seen: dict[str, int] = {}
    planned: list[tuple[int, dict[str, str], Cohort]] = []
    seats: dict[int, int] = {}

    for line, row in enumerate(rows[1:], start=2):
        if not any(row):
            continue
        record = {header[i]: (row[i] if i < len(row) else "") for i in range(len(header))}
        errors = []
        if any(looks_like_rrn(v) for v in row):
            errors.append("contains a resident registration number; remove it (never collected)")
        if any(len(v) > MAX_CELL for v in row):
            errors.append(f"a cell is longer than {MAX_CELL} characters")
        name = record.get("name", "")
        if not name:
            errors.append("name is empty")
        try:
            email = normalize_email(validate_email(record.get("email", ""), check_deliverability=False).normalized)
        except EmailNotValidError as exc:
            email = ""
            errors.append(f"e-mail is not valid ({exc})")
        if email and email in existing_emails:
            errors.append(f"{email} already has an account")
        if email and email in seen:
            errors.append(f"{email} also appears on line {seen[email]}")
        if email:
            seen.setdefault(email, line)
        university = universities.get(record.get("university", "").lower())
        cohort = None
        if university is None:
            errors.append(f"unknown university code {record.get('university')!r}")
        elif not record.get("cohort_year", "").isdigit():
            errors.append("cohort_year must be a year such as 2027")
        else:
            query = sa.select(Cohort).where(
                Cohort.university_id == university.id, Cohort.year == int(record["cohort_year"])
            )
            if record.get("cohort"):
                query = query.where(Cohort.name == record["cohort"])
            found = list(db.session.scalars(query))
            if len(found) != 1:
                errors.append("no such cohort" if not found else "several cohorts that year: name the cohort")
            else:
                cohort = found[0]
                seats[cohort.id] = seats.get(cohort.id, 0) + 1
                if cohort.enrolled_count + seats[cohort.id] > cohort.capacity:
                    errors.append(f"cohort {cohort.year} {cohort.name} would exceed its capacity of {cohort.capacity}")
        if errors:
            problems.extend(Problem(line, e) for e in errors)
        elif cohort is not None:
            planned.append((line, {"name": name, "email": email}, cohort))

    if problems:
        raise ImportRejected(problems)
    result = ImportResult()
    for _line, data, cohort in planned:
        password = secrets.token_urlsafe(12)
        student = create_user(data["email"], data["name"], "student", password, check_password=False)
        enroll(student, cohort)
        result.created += 1
        result.enrolled += 1
        result.passwords[student.email] = password
    return result
