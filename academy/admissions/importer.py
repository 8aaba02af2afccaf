"""Import trainees from CSV or XLSX, all or nothing.

Columns (header row, Korean or English names): name/이름, email/이메일, university/대학 (code),
cohort_year/기수연도, cohort/기수 (optional when the university has one cohort that year).
Every row is checked before anything is written; one bad row means nothing is imported and
every problem is reported with its line number. No password is made for anyone to see: each
new trainee gets an invitation, a one-time link to set their own (academy.auth.invitations).
"""
from __future__ import annotations

import csv
import io
from dataclasses import dataclass, field
from pathlib import Path

import sqlalchemy as sa
from email_validator import EmailNotValidError, validate_email

from academy.admissions.services import _, enroll_new_trainees
from academy.audit.services import record as audit
from academy.auth.invitations import invite, unusable_password_hash
from academy.auth.models import Invitation, User
from academy.auth.services import normalize_email
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
    # Each new trainee's invitation (a one-time link to set their own password): no password is
    # ever made for anyone to see.
    invitations: list[Invitation] = field(default_factory=list)


def _decode(raw: bytes) -> str:
    # Korean Excel saves CSV as CP949; everything else should be UTF-8 (with or without BOM).
    for encoding in ("utf-8-sig", "cp949"):
        try:
            return raw.decode(encoding)
        except UnicodeDecodeError:
            continue
    raise ImportRejected([Problem(1, _("The file is neither UTF-8 nor CP949 text."))])


def _cell(value: object) -> str:
    # Excel stores 2027 typed into a cell as the number 2027.0 when the column is formatted.
    if isinstance(value, float) and value.is_integer():
        value = int(value)
    return "" if value is None else str(value).strip()


def read_rows(data: bytes, filename: str) -> list[list[str]]:
    """Return the rows of an uploaded or local file as lists of strings (the header first)."""
    suffix = Path(filename).suffix.lower()
    if suffix == ".xlsx":
        from openpyxl import load_workbook

        try:
            sheet = load_workbook(io.BytesIO(data), read_only=True, data_only=True).active
            return [[_cell(v) for v in row] for row in sheet.iter_rows(values_only=True)]
        except Exception as exc:  # a broken or disguised file
            raise ImportRejected(
                [Problem(1, _("Not a readable XLSX file (%(error)s).", error=exc.__class__.__name__))]
            ) from exc
    if suffix != ".csv":
        raise ImportRejected([Problem(1, _("Use a .csv or .xlsx file."))])
    try:
        return [[cell.strip() for cell in row] for row in csv.reader(io.StringIO(_decode(data)))]
    except csv.Error as exc:
        raise ImportRejected([Problem(1, _("Not a readable CSV file (%(error)s).", error=str(exc)))]) from exc


def import_trainees_file(path: Path, university: University | None = None) -> ImportResult:
    """Import the trainees listed in a CSV or XLSX file (see import_rows)."""
    return import_rows(read_rows(path.read_bytes(), path.name), university)


def _cohorts(university: University, year: int, name: str, cache: dict[tuple, list[Cohort]]) -> list[Cohort]:
    # A file lists many trainees of the same few cohorts: look each one up once.
    key = (university.id, year, name)
    if key not in cache:
        query = sa.select(Cohort).where(Cohort.university_id == university.id, Cohort.year == year)
        if name:
            query = query.where(Cohort.name == name)
        cache[key] = list(db.session.scalars(query))
    return cache[key]


def _find_cohort(
    record: dict[str, str],
    university: University,
    seats: dict[int, int],
    errors: list[str],
    cache: dict[tuple, list[Cohort]],
) -> Cohort | None:
    """Return the row's cohort, counting the seat it takes, or add why there is none."""
    year = record.get("cohort_year", "")
    if not year.isdigit():
        errors.append(_("cohort_year must be a year such as 2027"))
        return None
    found = _cohorts(university, int(year), record.get("cohort", ""), cache)
    if not found:
        errors.append(_("no such cohort: %(university)s %(year)s %(name)s",
                        university=university.code, year=year, name=record.get("cohort", "")))
        return None
    if len(found) > 1:
        errors.append(_("several cohorts that year: name the cohort"))
        return None
    cohort = found[0]
    seats[cohort.id] = seats.get(cohort.id, 0) + 1
    if cohort.enrolled_count + seats[cohort.id] > cohort.capacity:
        errors.append(_("cohort %(year)s %(name)s would exceed its capacity of %(capacity)d",
                        year=cohort.year, name=cohort.name, capacity=cohort.capacity))
    return cohort


def import_rows(
    rows: list[list[str]], university: University | None = None, imported_by: User | None = None
) -> ImportResult:
    """Validate every row, then create, invite and enrol all trainees in one transaction.

    With `university` (a coordinator's import) every row must be for that university, and the
    university column may be left out.
    """
    if not rows:
        raise ImportRejected([Problem(1, _("The file is empty."))])
    header = [ALIASES.get(h.strip().lower(), h.strip().lower()) for h in rows[0]]
    fill_university = university is not None and "university" not in header
    missing = [c for c in REQUIRED if c not in header and not (c == "university" and fill_university)]
    if missing:
        raise ImportRejected([Problem(1, _("Missing column(s): %(columns)s", columns=", ".join(missing)))])
    if len(rows) - 1 > MAX_ROWS:
        raise ImportRejected([Problem(1, _("At most %(n)d rows per file.", n=MAX_ROWS))])

    universities = {u.code.lower(): u for u in db.session.scalars(sa.select(University))}
    existing_emails = set(db.session.scalars(sa.select(User.email)))
    problems: list[Problem] = []
    seen: dict[str, int] = {}
    planned: list[tuple[dict[str, str], Cohort]] = []
    seats: dict[int, int] = {}
    cache: dict[tuple, list[Cohort]] = {}

    for line, row in enumerate(rows[1:], start=2):
        if not any(row):
            continue
        record = {header[i]: (row[i] if i < len(row) else "") for i in range(len(header))}
        if fill_university:
            record["university"] = university.code  # type: ignore[union-attr]
        errors: list[str] = []
        if any(looks_like_rrn(v) for v in row):
            errors.append(_("contains a resident registration number; remove it (never collected)"))
        if any(len(v) > MAX_CELL for v in row):
            errors.append(_("a cell is longer than %(n)d characters", n=MAX_CELL))
        name = record.get("name", "")
        if not name:
            errors.append(_("name is empty"))
        try:
            email = normalize_email(validate_email(record.get("email", ""), check_deliverability=False).normalized)
        except EmailNotValidError as exc:
            email = ""
            errors.append(_("e-mail \"%(email)s\" is not valid (%(error)s)", email=record.get("email", ""), error=str(exc)))
        if email and email in existing_emails:
            errors.append(_("%(email)s already has an account", email=email))
        if email and email in seen:
            errors.append(_("%(email)s also appears on line %(line)d", email=email, line=seen[email]))
        if email:
            seen.setdefault(email, line)
        row_university = universities.get(record.get("university", "").lower())
        cohort = None
        if row_university is None:
            errors.append(_("unknown university code \"%(code)s\"", code=record.get("university", "")))
        elif university is not None and row_university.id != university.id:
            errors.append(_("you may import only into your own university (%(code)s)", code=university.code))
        else:
            cohort = _find_cohort(record, row_university, seats, errors, cache)
        if errors:
            problems.extend(Problem(line, e) for e in errors)
        elif cohort is not None:
            planned.append(({"name": name, "email": email}, cohort))

    if problems:
        raise ImportRejected(problems)
    return _create_and_enrol(planned, imported_by)


def _create_and_enrol(planned: list[tuple[dict[str, str], Cohort]], imported_by: User | None) -> ImportResult:
    """Create the checked rows' accounts, invite each owner to set a password, and enrol them."""
    result = ImportResult()
    trainees: list[tuple[User, Cohort]] = []
    for data, cohort in planned:
        user = User(email=data["email"], name=data["name"].strip(), role="student",
                    password_hash=unusable_password_hash())
        trainees.append((user, cohort))
    db.session.add_all([user for user, _cohort in trainees])
    db.session.flush()
    for user, _cohort in trainees:
        audit("user.created", subject_user_id=user.id, obj=user, detail={"role": "student", "via": "import"})
    result.invitations = invite([(user, cohort.university_id) for user, cohort in trainees], imported_by)
    by_cohort: dict[int, tuple[Cohort, list[User]]] = {}
    for user, cohort in trainees:
        by_cohort.setdefault(cohort.id, (cohort, []))[1].append(user)
    for cohort, users in by_cohort.values():
        result.enrolled += len(enroll_new_trainees(users, cohort))
    result.created = len(trainees)
    return result
