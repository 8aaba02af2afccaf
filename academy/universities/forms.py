"""Forms of the academy office for universities and cohorts."""
from __future__ import annotations

from flask_babel import lazy_gettext as _l
from flask_wtf import FlaskForm
from wtforms import BooleanField, IntegerField, SelectField, StringField
from wtforms.validators import DataRequired, InputRequired, Length, NumberRange, Regexp

from academy.companies.models import CITIES
from academy.i18n import pair
from academy.validators import RRNRejectingForm


def city_choices() -> list[tuple[str, str]]:
    """Return the 18 cities and counties of Gyeongsangnam-do in the current language."""
    return [(key, pair(CITIES, key)) for key in CITIES]


class UniversityForm(RRNRejectingForm, FlaskForm):
    """Add or edit a partner university."""

    code = StringField(
        _l("Code"),
        validators=[DataRequired(), Length(max=20),
                    Regexp(r"^[A-Za-z0-9_-]+$", message=_l("Use letters, digits, '-' or '_' only."))],
    )
    name_ko = StringField(_l("Name (Korean)"), validators=[DataRequired(), Length(max=100)])
    name_en = StringField(_l("Name (English)"), validators=[DataRequired(), Length(max=100)])
    city = SelectField(_l("City or county"), choices=[], validators=[DataRequired()])

    def __init__(self, *args, **kwargs) -> None:
        super().__init__(*args, **kwargs)
        self.city.choices = city_choices()


class CohortForm(RRNRejectingForm, FlaskForm):
    """Add or edit a university's yearly cohort."""

    university_id = SelectField(_l("University"), coerce=int, choices=[])
    year = IntegerField(
        _l("Year"), validators=[InputRequired(), NumberRange(2020, 2100, message=_l("Between 2020 and 2100."))]
    )
    name = StringField(_l("Name"), validators=[DataRequired(), Length(max=60)])
    capacity = IntegerField(
        _l("Capacity"), validators=[InputRequired(), NumberRange(1, 1000, message=_l("Between 1 and 1000."))]
    )
    is_open = BooleanField(_l("Taking applications"), default=True)
