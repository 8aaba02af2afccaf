"""Forms of the talent pipeline. Every free-text field refuses resident registration numbers."""
from __future__ import annotations

from flask_babel import lazy_gettext as _l
from flask_wtf import FlaskForm
from wtforms import BooleanField, DateField, IntegerField, RadioField, SelectField, StringField, TextAreaField
from wtforms.validators import DataRequired, InputRequired, Length, NumberRange, Optional

from academy.placements.models import FOLLOW_UP_MONTHS
from academy.validators import MAX_ID, RRNRejectingForm, within_years


class ActionForm(FlaskForm):
    """A button that changes something (CSRF only)."""


class ConsentForm(FlaskForm):
    agree = BooleanField(_l("I have read the notice above and consent to this demand's company receiving these items."))


class RoundForm(FlaskForm):
    cohort_id = SelectField(_l("Cohort"), coerce=int, validators=[DataRequired()])
    retention_until = DateField(_l("Keep the round's personal data until"), validators=[InputRequired(), within_years()])


class RunForm(FlaskForm):
    seed = IntegerField(_l("Lottery seed (empty: drawn at random and recorded)"),
                        validators=[Optional(), NumberRange(min=0, max=2**31 - 1)])


class OfferForm(FlaskForm):
    student_id = IntegerField(validators=[InputRequired(), NumberRange(min=1, max=MAX_ID)])
    deadline = DateField(_l("Answer by"), validators=[InputRequired(), within_years()])


class EvaluationForm(RRNRejectingForm, FlaskForm):
    rating = SelectField(_l("Rating"), coerce=int, choices=[(i, str(i)) for i in range(5, 0, -1)])
    comment = TextAreaField(_l("Comment"), validators=[Length(max=2000)])


class FollowUpForm(RRNRejectingForm, FlaskForm):
    months = SelectField(_l("Months after the start"), coerce=int,
                         choices=[(m, _l("%(n)d months", n=m)) for m in FOLLOW_UP_MONTHS])
    employed = RadioField(_l("Still employed?"), choices=[("yes", _l("Yes")), ("no", _l("No"))],
                          validators=[InputRequired()])
    note = StringField(_l("Note"), validators=[Length(max=500)])


class ShortlistForm(RRNRejectingForm, FlaskForm):
    """The recruiter's order and interview notes; one pair of fields per consenting trainee."""

    student_ids: list[int] = []

    def positions(self) -> dict[int, int]:
        return {sid: self[f"pos_{sid}"].data for sid in self.student_ids}

    def notes(self) -> dict[int, str]:
        return {sid: self[f"note_{sid}"].data or "" for sid in self.student_ids}


def shortlist_form(lines: list, **kwargs) -> ShortlistForm:
    """Build the shortlist form for these trainees, prefilled with their current places."""
    fields = {}
    for place, line in enumerate(lines, start=1):
        sid = line.trainee.id
        fields[f"pos_{sid}"] = IntegerField(_l("Place"), default=place,
                                            validators=[InputRequired(), NumberRange(min=1, max=999)])
        fields[f"note_{sid}"] = TextAreaField(_l("Interview notes"), default=line.note,
                                              validators=[Length(max=2000)])
    cls = type("DemandShortlistForm", (ShortlistForm,), {**fields, "student_ids": [ln.trainee.id for ln in lines]})
    return cls(**kwargs)
