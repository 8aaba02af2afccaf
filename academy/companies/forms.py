"""Forms for company registration and profile, demands, and the office's reviews.

The demand form asks only for the work: nothing about an applicant's appearance, height, weight,
place of origin, marital status or family (Fair Hiring Procedure Act, Art. 4-3).
"""
from __future__ import annotations

from flask_babel import lazy_gettext as _l
from flask_wtf import FlaskForm
from wtforms import (
    DateField,
    EmailField,
    IntegerField,
    PasswordField,
    RadioField,
    SelectField,
    StringField,
    TextAreaField,
)
from wtforms.validators import DataRequired, Email, InputRequired, Length, NumberRange, Optional, URL, ValidationError

from academy.companies.models import CITIES, SECTOR_NAMES, SIZE_NAMES, DemandKind
from academy.companies.services import asks_for_personal_details
from academy.i18n import localized, pair
from academy.privacy.forms import ConsentFields
from academy.skills.models import LEVELS, Skill
from academy.validators import RRNRejectingForm

UNFAIR_MESSAGE = _l(
    "Do not ask for appearance, height, weight, place of origin, marital status or family details: "
    "the Fair Hiring Procedure Act forbids it."
)
KIND_NAMES = {"internship": _l("Project internship"), "hire": _l("Hire")}
REVIEW_STATUS_NAMES = {"rejected": _l("not approved")}
LEVEL_NAMES = {0: _l("not required"), 1: _l("1 · aware"), 2: _l("2 · guided"), 3: _l("3 · independent"),
               4: _l("4 · proficient"), 5: _l("5 · can teach it")}


def fair(form, field) -> None:  # noqa: ARG001 - WTForms validator signature
    """Refuse demand text that asks for what the Fair Hiring Procedure Act forbids."""
    if asks_for_personal_details(field.data):
        raise ValidationError(UNFAIR_MESSAGE)


class ProfileForm(RRNRejectingForm, FlaskForm):
    """What a company says about itself."""

    sector = SelectField(_l("Sector"), choices=[])
    city = SelectField(_l("City or county"), choices=[])
    size = SelectField(_l("Size"), choices=[])
    description = TextAreaField(_l("About the company"), validators=[Length(max=4000)])
    website = StringField(
        _l("Website"),
        validators=[Optional(), Length(max=200),
                    URL(require_tld=True, message=_l("Enter a web address (https://...)."))],
    )

    def __init__(self, *args, **kwargs) -> None:
        super().__init__(*args, **kwargs)
        self.sector.choices = [(k, pair(SECTOR_NAMES, k)) for k in SECTOR_NAMES]
        self.city.choices = [(k, pair(CITIES, k)) for k in CITIES]
        self.size.choices = [(k, pair(SIZE_NAMES, k)) for k in SIZE_NAMES]


class RegisterCompanyForm(ConsentFields, ProfileForm):
    """A company registers itself and its first recruiter."""

    name = StringField(_l("Company name"), validators=[DataRequired(), Length(max=120)])
    recruiter_name = StringField(_l("Your name"), validators=[DataRequired(), Length(max=100)])
    email = EmailField(_l("Your work e-mail"),
                       validators=[DataRequired(), Email(check_deliverability=False), Length(max=254)])
    password = PasswordField(_l("Password"), validators=[DataRequired(), Length(max=128)])


class DemandForm(RRNRejectingForm, FlaskForm):
    """A placement demand; `skill_<code>` fields are added per catalogue skill by demand_form()."""

    title = StringField(_l("Title"), validators=[DataRequired(), Length(max=160), fair])
    kind = SelectField(_l("Kind"), choices=[])
    description = TextAreaField(_l("What the trainees will work on"), validators=[Length(max=4000), fair])
    headcount = IntegerField(_l("Headcount"), validators=[InputRequired(), NumberRange(1, 100)])
    start_date = DateField(_l("Start date"), validators=[InputRequired()])
    duration_months = IntegerField(_l("Duration (months)"), validators=[InputRequired(), NumberRange(1, 60)])
    work_city = SelectField(_l("Work city or county"), choices=[])
    work_address = StringField(_l("Work address"), validators=[Length(max=200), fair])
    stipend_krw = IntegerField(_l("Monthly stipend or salary (KRW)"),
                               validators=[InputRequired(), NumberRange(
                                   0, 100_000_000, message=_l("Enter an amount from 0 to 100,000,000 won."))],
                               default=0)

    skills: list[Skill] = []

    def __init__(self, *args, **kwargs) -> None:
        super().__init__(*args, **kwargs)
        self.kind.choices = [(k.value, KIND_NAMES[k.value]) for k in DemandKind]
        self.work_city.choices = [(k, pair(CITIES, k)) for k in CITIES]
        self.skill_errors: list[str] = []

    def skill_fields(self) -> list[tuple[str, SelectField]]:
        """Return (skill name, level field) for every catalogue skill."""
        return [(localized(s, "name"), self[f"skill_{s.code}"]) for s in self.skills]

    def skill_levels(self) -> dict[int, int]:
        """Return the required skills as {skill id: minimum level}."""
        return {s.id: self[f"skill_{s.code}"].data for s in self.skills if self[f"skill_{s.code}"].data}

    def set_skill_levels(self, levels: dict[int, int]) -> None:
        for s in self.skills:
            self[f"skill_{s.code}"].data = levels.get(s.id, 0)

    def validate(self, extra_validators=None) -> bool:  # type: ignore[override]
        ok = super().validate(extra_validators)
        if not self.skill_levels():
            self.skill_errors.append(str(_l("Choose at least one required skill with a minimum level.")))
            ok = False
        return ok


def demand_form(skills: list[Skill], **kwargs) -> DemandForm:
    """Build the demand form with one minimum-level choice per catalogue skill."""
    choices = [(level, LEVEL_NAMES[level]) for level in (0, *LEVELS)]
    fields = {f"skill_{s.code}": SelectField(s.code, coerce=int, choices=choices, default=0) for s in skills}
    cls = type("CatalogueDemandForm", (DemandForm,), {**fields, "skills": skills})
    return cls(**kwargs)


class ReviewForm(RRNRejectingForm, FlaskForm):
    """The office's decision on a company or a demand."""

    decision = RadioField(_l("Decision"), choices=[("approve", _l("Approve")), ("reject", _l("Reject"))],
                          validators=[InputRequired()])
    reason = TextAreaField(_l("Reason (shown to the company; required to reject)"), validators=[Length(max=2000)])

    def validate_reason(self, field) -> None:
        if self.decision.data == "reject" and not (field.data or "").strip():
            raise ValidationError(_l("Give the company a reason for the rejection."))
