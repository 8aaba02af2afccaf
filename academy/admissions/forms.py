"""Forms of the admissions pages; every free-text field refuses RRN-shaped input."""
from __future__ import annotations

from flask_babel import lazy_gettext as _l
from flask_wtf import FlaskForm
from flask_wtf.file import FileAllowed, FileField, FileRequired
from wtforms import HiddenField, TextAreaField
from wtforms.validators import DataRequired, Length, Optional, ValidationError

from academy.admissions.models import DECISIONS, ApplicationStatus
from academy.validators import RRNRejectingForm


class ApplyForm(RRNRejectingForm, FlaskForm):
    """A trainee applies to a cohort."""

    motivation = TextAreaField(
        _l("Why do you want to join this cohort?"), validators=[DataRequired(), Length(max=4000)]
    )
    background = TextAreaField(
        _l("Your studies and experience (optional)"), validators=[Optional(), Length(max=4000)]
    )


class MoveForm(RRNRejectingForm, FlaskForm):
    """A coordinator moves an application to its next status."""

    to_status = HiddenField(validators=[DataRequired()])
    reason = TextAreaField(_l("Reason"), validators=[Length(max=2000)])  # required for decisions, below

    def validate_to_status(self, field) -> None:
        if field.data not in set(ApplicationStatus):
            raise ValidationError(_l("Unknown status."))

    def validate_reason(self, field) -> None:
        # Said here as well as in the service so the reason box shows the error beside it.
        if self.to_status.data in DECISIONS and not (field.data or "").strip():
            raise ValidationError(_l("A decision needs a reason."))


class WithdrawTraineeForm(RRNRejectingForm, FlaskForm):
    """A coordinator ends a trainee's enrolment."""

    reason = TextAreaField(_l("Reason for withdrawal"), validators=[DataRequired(), Length(max=2000)])


class WithdrawApplicationForm(RRNRejectingForm, FlaskForm):
    """A trainee withdraws their own application."""

    reason = TextAreaField(_l("Reason (optional)"), validators=[Optional(), Length(max=2000)])


class ImportForm(FlaskForm):
    """A coordinator uploads a list of trainees for their university's cohorts."""

    file = FileField(
        _l("CSV or XLSX file"),
        validators=[FileRequired(), FileAllowed(["csv", "xlsx"], _l("Use a .csv or .xlsx file."))],
    )

