"""Universities and cohorts: the academy office adds and edits them; capacity never drops below enrolment."""
from __future__ import annotations

import sqlalchemy as sa
from flask_babel import gettext as _
from sqlalchemy.orm import joinedload

from academy.audit.services import record
from academy.companies.models import CITIES
from academy.extensions import db
from academy.universities.models import Cohort, University


class UniversityError(ValueError):
    """A change to a university or cohort that breaks a rule; the message is shown to the user."""


class DuplicateUniversity(UniversityError):
    pass


class DuplicateCohort(UniversityError):
    pass


class CapacityBelowEnrolment(UniversityError):
    pass


def _flush_or(error: UniversityError) -> None:
    """Write pending changes; a unique constraint hit by a concurrent request becomes `error`."""
    try:
        db.session.flush()
    except sa.exc.IntegrityError as exc:
        raise error from exc


def _check_city(city: str) -> None:
    if city not in CITIES:
        raise UniversityError(_("Choose a city or county of Gyeongsangnam-do."))


def _code_taken(code: str, but: int | None) -> bool:
    query = sa.select(University.id).where(sa.func.upper(University.code) == code.upper())
    if but is not None:
        query = query.where(University.id != but)
    return db.session.scalar(query) is not None


def add_university(code: str, name_ko: str, name_en: str, city: str) -> University:
    """Add a partner university."""
    code = code.strip().upper()
    _check_city(city)
    if _code_taken(code, None):
        raise DuplicateUniversity(_("A university with the code %(code)s already exists.", code=code))
    university = University(code=code, name_ko=name_ko.strip(), name_en=name_en.strip(), city=city)
    db.session.add(university)
    _flush_or(DuplicateUniversity(_("A university with the code %(code)s already exists.", code=code)))
    record("university.created", obj=university, detail={"code": code})
    return university


def update_university(university: University, *, code: str, name_ko: str, name_en: str, city: str) -> University:
    """Change a university's code, names or city."""
    code = code.strip().upper()
    _check_city(city)
    if _code_taken(code, university.id):
        raise DuplicateUniversity(_("A university with the code %(code)s already exists.", code=code))
    before = {"code": university.code, "name_ko": university.name_ko, "name_en": university.name_en,
              "city": university.city}
    university.code, university.name_ko, university.name_en, university.city = (
        code, name_ko.strip(), name_en.strip(), city)
    _flush_or(DuplicateUniversity(_("A university with the code %(code)s already exists.", code=code)))
    record("university.updated", obj=university, detail={"before": before})
    return university


def _cohort_taken(university_id: int, year: int, name: str, but: int | None) -> bool:
    query = sa.select(Cohort.id).where(
        Cohort.university_id == university_id, Cohort.year == year, Cohort.name == name
    )
    if but is not None:
        query = query.where(Cohort.id != but)
    return db.session.scalar(query) is not None


def _check_cohort(year: int, capacity: int) -> None:
    if not 2020 <= year <= 2100:
        raise UniversityError(_("The year must be between 2020 and 2100."))
    if capacity < 1:
        raise UniversityError(_("The capacity must be at least 1."))


def add_cohort(university: University, *, year: int, name: str, capacity: int, is_open: bool = True) -> Cohort:
    """Open a university's cohort for a year with a capacity."""
    name = name.strip()
    _check_cohort(year, capacity)
    if _cohort_taken(university.id, year, name, None):
        raise DuplicateCohort(_("This university already has a cohort %(name)s in %(year)d.", name=name, year=year))
    cohort = Cohort(university=university, year=year, name=name, capacity=capacity, is_open=is_open,
                    enrolled_count=0)
    db.session.add(cohort)
    _flush_or(DuplicateCohort(_("This university already has a cohort %(name)s in %(year)d.", name=name, year=year)))
    record("cohort.created", obj=cohort, detail={"university": university.code, "capacity": capacity})
    return cohort


def update_cohort(
    cohort: Cohort, *, university: University, year: int, name: str, capacity: int, is_open: bool
) -> Cohort:
    """Change a cohort; its capacity can never go below the trainees already enrolled."""
    name = name.strip()
    _check_cohort(year, capacity)
    if _cohort_taken(university.id, year, name, cohort.id):
        raise DuplicateCohort(_("This university already has a cohort %(name)s in %(year)d.", name=name, year=year))
    if university.id != cohort.university_id and cohort.enrolled_count > 0:
        raise UniversityError(_("A cohort with enrolled trainees cannot move to another university."))
    before = {"university_id": cohort.university_id, "year": cohort.year, "name": cohort.name,
              "capacity": cohort.capacity, "is_open": cohort.is_open}
    # A conditional UPDATE, so an admission landing between our read and this write cannot leave
    # more trainees than seats (the CHECK constraint on cohorts backs this up).
    changed = db.session.execute(
        sa.update(Cohort)
        .where(Cohort.id == cohort.id, Cohort.enrolled_count <= capacity)
        .values(capacity=capacity)
        .execution_options(synchronize_session=False)
    ).rowcount
    db.session.refresh(cohort)
    if changed != 1:
        raise CapacityBelowEnrolment(
            _("%(n)d trainees are already enrolled: the capacity cannot be lower.", n=cohort.enrolled_count)
        )
    cohort.university, cohort.year, cohort.name, cohort.is_open = university, year, name, is_open
    _flush_or(DuplicateCohort(_("This university already has a cohort %(name)s in %(year)d.", name=name, year=year)))
    record("cohort.updated", obj=cohort, detail={"before": before, "capacity": capacity})
    return cohort


def cohorts_newest_first() -> list[Cohort]:
    """List every cohort, the newest year first, with its university (named wherever a cohort is listed)."""
    return list(db.session.scalars(sa.select(Cohort).options(joinedload(Cohort.university))
                                   .order_by(Cohort.year.desc(), Cohort.name)))
