"""Forms of the courses domain: assignments, due dates, extensions and hand-entered grades."""
from __future__ import annotations

from flask_babel import lazy_gettext as _l
from flask_wtf import FlaskForm
from wtforms import BooleanField, DateTimeLocalField, FloatField, IntegerField, SelectField, StringField, TextAreaField
from wtforms.validators import DataRequired, InputRequired, Length, NumberRange, Optional

from academy.skills.models import LEVELS, Skill
from academy.validators import RRNRejectingForm, finite, within_years

LEVEL_CHOICES = [(0, "—")] + [(n, str(n)) for n in LEVELS]


def with_skill_levels(form_class: type[FlaskForm], skills: list[Skill], label) -> type[FlaskForm]:
    """Return a subclass of the form with one level select (none, 1..5) per catalogue skill."""
    fields = {
        f"skill_{s.id}": SelectField(label(s), choices=LEVEL_CHOICES, coerce=int, default=0) for s in skills
    }
    return type(form_class.__name__, (form_class,), fields)


def skill_levels(form: FlaskForm, skills: list[Skill]) -> dict[int, int]:
    """Return {skill id: level} for the skills given a level in the form."""
    return {s.id: form[f"skill_{s.id}"].data for s in skills if form[f"skill_{s.id}"].data}


class AssignmentForm(RRNRejectingForm, FlaskForm):
    nbgrader_name = SelectField(_l("nbgrader assignment"), choices=[], validators=[DataRequired()])
    title_ko = StringField(_l("Title (Korean)"), validators=[DataRequired(), Length(max=160)])
    title_en = StringField(_l("Title (English)"), validators=[DataRequired(), Length(max=160)])
    week = IntegerField(_l("Week"), default=1, validators=[InputRequired(), NumberRange(min=1, max=52)])
    max_points = FloatField(_l("Maximum points"), default=100.0, validators=[InputRequired(), NumberRange(min=0.5, max=1000), finite])
    needs_gpu = BooleanField(_l("Needs a GPU to grade"))


class DueDateForm(FlaskForm):
    cohort_id = SelectField(_l("Cohort"), coerce=int, choices=[])
    due_at = DateTimeLocalField(_l("Due (Seoul time)"), validators=[InputRequired(), within_years()])
    released_at = DateTimeLocalField(_l("Released (Seoul time, optional)"), validators=[Optional(), within_years()])


class ExtensionForm(RRNRejectingForm, FlaskForm):
    student_id = SelectField(_l("Trainee"), coerce=int, choices=[])
    due_at = DateTimeLocalField(_l("New due date (Seoul time)"), validators=[InputRequired(), within_years()])
    reason = TextAreaField(_l("Reason"), validators=[DataRequired(), Length(max=500)])


class GradeForm(RRNRejectingForm, FlaskForm):
    score = FloatField(_l("Score (after late penalty)"), validators=[InputRequired(), finite])
    late_penalty = FloatField(_l("Late penalty (points taken off)"), default=0.0, validators=[Optional(), finite])
    feedback = TextAreaField(_l("Feedback"), validators=[Length(max=5000)])
