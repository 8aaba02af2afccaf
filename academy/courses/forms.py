"""Forms of the courses domain: assignments, due dates, extensions and hand-entered grades."""
from __future__ import annotations

from flask_babel import lazy_gettext as _l
from flask_wtf import FlaskForm
from markupsafe import escape
from wtforms import (
    BooleanField,
    DateTimeLocalField,
    FloatField,
    IntegerField,
    SelectField,
    SelectMultipleField,
    StringField,
    TextAreaField,
)
from wtforms.widgets import CheckboxInput, ListWidget, Select
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


class RosterSelect(Select):
    """WTForms' select, each plain option written directly: a course's roster is ~150 options, and WTForms'
    html_params per option cost milliseconds a view. The markup is WTForms' own."""

    @classmethod
    def render_option(cls, choice, **kwargs):
        if choice.render_kw or kwargs or isinstance(choice.value, bool):
            return super().render_option(choice, **kwargs)
        selected = "selected " if choice.selected else ""
        return f'<option {selected}value="{escape(choice.value)}">{escape(choice.label or choice.value)}</option>'


class ExtensionForm(RRNRejectingForm, FlaskForm):
    student_id = SelectField(_l("Trainee"), coerce=int, choices=[], widget=RosterSelect())
    due_at = DateTimeLocalField(_l("New due date (Seoul time)"), validators=[InputRequired(), within_years()])
    reason = TextAreaField(_l("Reason"), validators=[DataRequired(), Length(max=500)])


class GradeForm(RRNRejectingForm, FlaskForm):
    score = FloatField(_l("Score (after late penalty)"), validators=[InputRequired(), finite])
    late_penalty = FloatField(_l("Late penalty (points taken off)"), default=0.0, validators=[Optional(), finite])
    feedback = TextAreaField(_l("Feedback"), validators=[Length(max=5000)])


class CheckboxesField(SelectMultipleField):
    """Several ids as checkboxes; the service, not the form, says which ids are acceptable (and why not)."""

    widget = ListWidget(prefix_label=False)
    option_widget = CheckboxInput()

    def __init__(self, *args, **kwargs):
        super().__init__(*args, coerce=int, validate_choice=False, **kwargs)


class LatePolicyForm(FlaskForm):
    # Ranges are the service's rule (academy.courses.administration.check_late_policy), which says what is wrong.
    late_percent_per_day = IntegerField(_l("Late deduction per started day (percent)"), default=10, validators=[InputRequired()])
    late_max_deduction = IntegerField(_l("Maximum late deduction (percent)"), default=50, validators=[InputRequired()])
    late_cutoff_days = IntegerField(_l("Cut-off (days after the due date)"), default=7, validators=[InputRequired()])


class CourseForm(RRNRejectingForm, LatePolicyForm):
    code = StringField(_l("Course code"), validators=[DataRequired(), Length(max=40)])
    title_ko = StringField(_l("Title (Korean)"), validators=[DataRequired(), Length(max=120)])
    title_en = StringField(_l("Title (English)"), validators=[DataRequired(), Length(max=120)])
    nbgrader_course = StringField(_l("nbgrader course folder"), validators=[DataRequired(), Length(max=60)])
    cohort_ids = CheckboxesField(_l("Cohorts"))
    instructor_ids = CheckboxesField(_l("Instructors"))


class BulkExtensionForm(RRNRejectingForm, FlaskForm):
    student_ids = CheckboxesField(_l("Trainees"))
    cohort_id = SelectField(_l("Or every trainee of a cohort"), coerce=int, choices=[], default=0)
    days = IntegerField(_l("Extra days"), validators=[Optional()])
    due_at = DateTimeLocalField(_l("Or a new due date (Seoul time)"), validators=[Optional(), within_years()])
    reason = TextAreaField(_l("Reason"), validators=[DataRequired(), Length(max=500)])
