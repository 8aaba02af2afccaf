"""Forms of a trainee's own profile."""
from __future__ import annotations

from flask_babel import lazy_gettext as _l
from flask_wtf import FlaskForm
from wtforms import StringField, TextAreaField
from wtforms.validators import DataRequired, Length, ValidationError

from academy.students.services import ProfileError, is_web_url, normalize_phone
from academy.validators import RRNRejectingForm


def korean_phone(form, field) -> None:  # noqa: ARG001 - WTForms validator signature
    """Refuse a phone number that is not a Korean one (empty is fine: the phone is optional)."""
    try:
        normalize_phone(field.data or "")
    except ProfileError as exc:
        raise ValidationError(str(exc)) from exc


def web_url(form, field) -> None:  # noqa: ARG001
    """Refuse a link that is not an http(s) address."""
    if field.data and not is_web_url(field.data):
        raise ValidationError(_l("A link must start with http:// or https://."))


class ProfileForm(RRNRejectingForm, FlaskForm):
    headline = StringField(_l("Headline"), validators=[Length(max=160)])
    about = TextAreaField(_l("About me"), validators=[Length(max=4000)])
    major = StringField(_l("Major"), validators=[Length(max=100)])
    phone = StringField(_l("Phone (optional)"), validators=[Length(max=20), korean_phone])


class ProjectForm(RRNRejectingForm, FlaskForm):
    title = StringField(_l("Project title"), validators=[DataRequired(), Length(max=160)])
    description = TextAreaField(_l("Description"), validators=[Length(max=2000)])
    url = StringField(_l("Link (http:// or https://)"), validators=[Length(max=300), web_url])
