"""Forms of the certificates pages: the completion rule, attendance, issuing and revoking."""
from __future__ import annotations

from flask_babel import lazy_gettext as _l
from flask_wtf import FlaskForm
from wtforms import IntegerField, TextAreaField
from wtforms.validators import DataRequired, InputRequired, Length, NumberRange

from academy.validators import RRNRejectingForm


def _percent(label) -> IntegerField:
    return IntegerField(label, validators=[InputRequired(), NumberRange(0, 100, message=_l("Between 0 and 100."))])


class RuleForm(FlaskForm):
    """The office's completion rule."""

    pass_percent = _percent(_l("A course is passed with at least this share of its points (in 100)"))
    min_courses_passed = _percent(_l("Courses passed, at least"))
    min_share_percent = _percent(_l("Share of the cohort's courses passed, at least (in 100)"))
    min_attendance_percent = _percent(_l("Attendance of the cohort, at least (in 100)"))


class AttendanceForm(FlaskForm):
    """A trainee's attendance of the cohort."""

    percent = _percent(_l("Attendance (in 100)"))


class ActionForm(FlaskForm):
    """A button that changes something (CSRF only)."""


class RevokeForm(RRNRejectingForm, FlaskForm):
    """Revoke a certificate, saying why."""

    reason = TextAreaField(_l("Why is it revoked?"), validators=[DataRequired(), Length(max=1000)])
