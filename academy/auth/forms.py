"""Sign-in and account forms."""
from __future__ import annotations

from flask_babel import lazy_gettext as _l
from flask_wtf import FlaskForm
from wtforms import EmailField, HiddenField, PasswordField, SelectField, StringField
from wtforms.validators import DataRequired, Email, EqualTo, Length, Optional

from academy.privacy.forms import ConsentFields
from academy.validators import RRNRejectingForm


class LoginForm(FlaskForm):
    email = EmailField(_l("E-mail"), validators=[DataRequired(), Length(max=254)])
    password = PasswordField(_l("Password"), validators=[DataRequired(), Length(max=128)])
    next = HiddenField()


class ForgotForm(FlaskForm):
    email = EmailField(_l("E-mail"), validators=[DataRequired(), Length(max=254), Email(check_deliverability=False)])


class PasswordForm(FlaskForm):
    current = PasswordField(_l("Current password"), validators=[DataRequired()])
    new = PasswordField(_l("New password"), validators=[DataRequired(), Length(max=128)])


class UserForm(RRNRejectingForm, FlaskForm):
    """The academy office creates an account; its person sets the password through an e-mailed invitation."""

    email = EmailField(_l("E-mail"), validators=[DataRequired(), Email(check_deliverability=False), Length(max=254)])
    name = StringField(_l("Name"), validators=[DataRequired(), Length(max=100)])
    role = SelectField(_l("Role"), choices=[])
    university_id = SelectField(_l("University"), coerce=int, validators=[Optional()])
    company_id = SelectField(_l("Company"), coerce=int, validators=[Optional()])


class RegisterForm(ConsentFields, RRNRejectingForm, FlaskForm):
    """A prospective trainee creates an account to apply to a cohort."""

    email = EmailField(_l("E-mail"), validators=[DataRequired(), Email(check_deliverability=False), Length(max=254)])
    name = StringField(_l("Name"), validators=[DataRequired(), Length(max=100)])
    password = PasswordField(_l("Password"), validators=[DataRequired(), Length(max=128)])


class SetPasswordForm(FlaskForm):
    """An invited trainee chooses their own first password."""

    new = PasswordField(_l("New password"), validators=[DataRequired(), Length(max=128)])
    repeat = PasswordField(_l("Repeat the new password"),
                           validators=[DataRequired(), EqualTo("new", message=_l("The two passwords differ."))])
