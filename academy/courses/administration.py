"""The office's course administration: create and edit a course on its nbgrader folder, its cohorts and
instructors, its late policy; archive it; and extensions for a group of trainees at once."""
from __future__ import annotations

import re
from collections.abc import Sequence
from datetime import datetime, timedelta

import sqlalchemy as sa
from flask import current_app
from flask_babel import lazy_gettext as _l
from sqlalchemy.orm import selectinload

from academy.audit.services import record
from academy.auth.models import User
from academy.courses.models import Assignment, Course
from academy.courses.services import CourseError, due_for, grant_extension, link_nbgrader_folder
from academy.extensions import db
from academy.integrations import course_folder
from academy.universities.models import Cohort
from academy.util import utcnow

_CODE = re.compile(r"^[A-Za-z0-9][A-Za-z0-9_-]{0,39}$")
MAX_CUTOFF_DAYS = 365
NO_DUE_DATE = _l("no due date is set for their cohort")


class CourseFolderRefused(CourseError):
    pass


class NotAnInstructor(CourseError):
    pass


class LatePolicyInvalid(CourseError):
    pass


class ExtensionsRefused(CourseError):
    """At least one extension of a group was invalid, so none was granted."""


def courses_query(archived: str | None = None) -> sa.Select:
    """Return a select of the courses in use ("1": the archived ones, "all": every one), with the cohorts (and
    their universities) and instructors the office's list shows loaded in three queries, not three per course."""
    query = sa.select(Course).options(selectinload(Course.cohorts).joinedload(Cohort.university),
                                      selectinload(Course.instructors))
    if archived == "1":
        return query.where(Course.archived_at.is_not(None))
    if archived != "all":
        return query.where(Course.archived_at.is_(None))
    return query


def course_folders() -> list[str]:
    """Return the course folders COURSES_DIR holds (for the office's form to suggest)."""
    return course_folder.course_folders(current_app.config["COURSES_DIR"])


def check_course_folder(folder: str) -> list[str]:
    """Refuse a folder that is not a real course folder inside COURSES_DIR holding every assignment it declares;
    return the assignments it declares."""
    try:
        found = course_folder.inspect_course_folder(current_app.config["COURSES_DIR"], folder)
    except course_folder.FolderOutside:
        raise CourseFolderRefused(_l("The nbgrader folder %(folder)s is not a folder inside the courses folder "
                                     "(a link or a path leading out of it is refused).", folder=folder)) from None
    except course_folder.FolderMissing:
        raise CourseFolderRefused(_l("There is no nbgrader course folder %(folder)s in the courses folder.",
                                     folder=folder)) from None
    except course_folder.NotACourseFolder:
        raise CourseFolderRefused(_l("The folder %(folder)s has neither a syllabus.toml nor a source/ folder: it "
                                     "is not an nbgrader course folder.", folder=folder)) from None
    except course_folder.SyllabusUnreadable as exc:
        raise CourseFolderRefused(_l("The syllabus.toml of %(folder)s cannot be read: %(error)s", folder=folder,
                                     error=str(exc))) from None
    if found.missing:
        raise CourseFolderRefused(_l("The syllabus of %(folder)s names assignments that have no source/ folder: "
                                     "%(missing)s.", folder=folder, missing=", ".join(found.missing)))
    return found.declared


def check_late_policy(percent_per_day: int, max_deduction: int, cutoff_days: int) -> None:
    if not 0 <= percent_per_day <= 100:
        raise LatePolicyInvalid(_l("The late deduction per day is a percentage from 0 to 100."))
    if not 0 <= max_deduction <= 100:
        raise LatePolicyInvalid(_l("The maximum late deduction is a percentage from 0 to 100."))
    if not 0 <= cutoff_days <= MAX_CUTOFF_DAYS:
        raise LatePolicyInvalid(_l("The cut-off is from 0 to %(days)s days after the due date.", days=MAX_CUTOFF_DAYS))


def _late(course: Course) -> dict[str, int]:
    return {"late_percent_per_day": course.late_percent_per_day, "late_max_deduction": course.late_max_deduction,
            "late_cutoff_days": course.late_cutoff_days}


def _state(course: Course) -> dict[str, object]:
    return {"code": course.code, "title_ko": course.title_ko, "title_en": course.title_en,
            "nbgrader_course": course.nbgrader_course, **_late(course),
            "cohort_ids": sorted(c.id for c in course.cohorts), "instructor_ids": sorted(u.id for u in course.instructors)}


def save_course(
    course: Course | None,
    *,
    code: str,
    title_ko: str,
    title_en: str,
    folder: str,
    cohorts: Sequence[Cohort],
    instructors: Sequence[User],
    late_percent_per_day: int,
    late_max_deduction: int,
    late_cutoff_days: int,
) -> Course:
    """Create or change a course (the office's form): it must sit on a real course folder, be taught by
    instructors and follow a valid late policy."""
    code, title_ko, title_en = code.strip(), title_ko.strip(), title_en.strip()
    if not _CODE.match(code):
        raise CourseError(_l("A course code is 1-40 letters, digits, '-' or '_'."))
    if not (title_ko and title_en):
        raise CourseError(_l("A course needs a Korean and an English title."))
    with db.session.no_autoflush:
        clash = db.session.scalar(sa.select(Course.id).where(Course.code == code))
    if clash is not None and (course is None or clash != course.id):
        raise CourseError(_l("Another course already has the code %(code)s.", code=code))
    not_instructors = [u.name for u in instructors if u.role != "instructor"]
    if not_instructors:
        raise NotAnInstructor(_l("Only instructors can teach a course: %(names)s.", names=", ".join(not_instructors)))
    check_late_policy(late_percent_per_day, late_max_deduction, late_cutoff_days)
    if course is None or course.nbgrader_course != folder:
        check_course_folder(folder)
    created = course is None
    before = None if created else _state(course)
    if course is None:
        course = Course()
    course.code, course.title_ko, course.title_en = code, title_ko, title_en
    course.late_percent_per_day, course.late_max_deduction = late_percent_per_day, late_max_deduction
    course.late_cutoff_days = late_cutoff_days
    course.cohorts, course.instructors = list(cohorts), list(instructors)
    link_nbgrader_folder(course, folder)
    db.session.flush()
    record("course.created" if created else "course.updated", obj=course,
           detail={"before": before, "after": _state(course)})
    return course


def set_late_policy(course: Course, percent_per_day: int, max_deduction: int, cutoff_days: int) -> Course:
    """Change the course's late policy (the office, or one of its instructors)."""
    check_late_policy(percent_per_day, max_deduction, cutoff_days)
    before = _late(course)
    course.late_percent_per_day, course.late_max_deduction = percent_per_day, max_deduction
    course.late_cutoff_days = cutoff_days
    db.session.flush()
    record("course.late_policy_set", obj=course, detail={"before": before, "after": _late(course)})
    return course


def archive_course(course: Course) -> Course:
    """Hide the course from trainees' lists and close it to releases; its history stays."""
    if course.archived_at is None:
        course.archived_at = utcnow()
        db.session.flush()
        record("course.archived", obj=course, detail={"before": None, "after": course.archived_at})
    return course


def unarchive_course(course: Course) -> Course:
    """Bring an archived course back."""
    if course.archived_at is not None:
        before, course.archived_at = course.archived_at, None
        db.session.flush()
        record("course.unarchived", obj=course, detail={"before": before, "after": None})
    return course


def grant_extensions(
    assignment: Assignment,
    chosen: Sequence[int],
    roster: Sequence[User],
    *,
    reason: str,
    by: User,
    days: int | None = None,
    due_at: datetime | None = None,
) -> int:
    """Give each chosen trainee of the roster a later due date (theirs plus days, or one new date) for the
    assignment; all or none."""
    on_roster = {u.id: u for u in roster}
    if outside := [i for i in dict.fromkeys(chosen) if i not in on_roster]:
        # Never by name: an id off the roster may be anyone's account.
        raise ExtensionsRefused(_l(
            "No extension was granted: %(count)s of the chosen are not active trainees of this course.",
            count=len(outside)))
    trainees = [on_roster[i] for i in dict.fromkeys(chosen)]
    if not trainees:
        raise ExtensionsRefused(_l("Choose at least one trainee."))
    if (days is None) == (due_at is None):
        raise ExtensionsRefused(_l("Give either a number of days or a new due date."))
    if days is not None and not 1 <= days <= 365:
        raise ExtensionsRefused(_l("An extension is from 1 to 365 days."))
    problems = []
    for trainee in trainees:
        new_due = due_at
        if days is not None:
            base = due_for(trainee, assignment, with_extension=False)
            if base is None:
                problems.append(f"{trainee.name}: {NO_DUE_DATE}")
                continue
            new_due = base + timedelta(days=days)
        try:  # grant_extension checks everything before it writes; a refusal here rolls back the whole group
            grant_extension(assignment, trainee, new_due, reason, by)
        except CourseError as exc:
            problems.append(f"{trainee.name}: {exc}")
    if problems:
        raise ExtensionsRefused(_l("No extension was granted, because: %(problems)s", problems="; ".join(problems)))
    record("extension.bulk_granted", actor_id=by.id, obj=assignment,
           detail={"assignment_id": assignment.id, "student_ids": [t.id for t in trainees], "days": days,
                   "due_at": due_at, "reason": reason.strip()})
    return len(trainees)
