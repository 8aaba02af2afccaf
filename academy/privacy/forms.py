"""Forms of consent and of privacy requests."""
from __future__ import annotations

from flask_babel import lazy_gettext as _l
from flask_wtf import FlaskForm
from wtforms import BooleanField, HiddenField, RadioField, SelectField, TextAreaField
from wtforms.validators import DataRequired, InputRequired, Length

from academy.privacy.services import OPTIONAL, REQUEST_KINDS
from academy.validators import RRNRejectingForm


class ConsentFields:
    """Mixin: the separate consents asked at sign-up, one box each (PIPA Art. 22(1): presented separately)."""

    consent_required = BooleanField(
        _l("I agree to the collection and use of my personal data described above (required)"),
        validators=[DataRequired(message=_l("Without this consent the academy cannot run your training or "
                                            "placement: you can read the policy and decide."))],
    )
    consent_news = BooleanField(OPTIONAL["news"])
    consent_alumni = BooleanField(OPTIONAL["alumni"])

    def optional_given(self) -> set[str]:
        """Return the optional purposes ticked."""
        return {p for p in OPTIONAL if getattr(self, f"consent_{p}").data}


class ConsentForm(ConsentFields, FlaskForm):
    """Consent asked of someone already signed up: a new policy version, or an invited account."""

    next = HiddenField()


class OptionalForm(FlaskForm):
    """Give or withdraw one optional consent."""

    purpose = SelectField(choices=list(OPTIONAL.items()), validators=[InputRequired()])
    given = RadioField(choices=[("1", _l("Yes")), ("0", _l("No"))], validators=[InputRequired()])


class RequestForm(RRNRejectingForm, FlaskForm):
    """A person's request about their own data."""

    kind = SelectField(_l("What do you ask for?"), choices=list(REQUEST_KINDS.items()), validators=[InputRequired()])
    details = TextAreaField(_l("Details (what to correct, which data, why)"), validators=[Length(max=4000)])


class AnswerForm(RRNRejectingForm, FlaskForm):
    """The office's answer to a privacy request."""

    status = RadioField(_l("Outcome"), choices=[("done", _l("Done")), ("refused", _l("Refused, with the reason"))],
                        validators=[InputRequired()])
    answer = TextAreaField(_l("Answer (the person reads it)"), validators=[DataRequired(), Length(max=4000)])
