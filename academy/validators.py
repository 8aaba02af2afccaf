"""Input checks shared by forms and imports."""
from __future__ import annotations

import re

from flask_babel import lazy_gettext as _l
from wtforms.validators import ValidationError

# A resident registration number (주민등록번호): YYMMDD-GNNNNNN, with or without the hyphen or
# with spaces. PIPA Art. 24-2 forbids collecting it, so anything shaped like one is refused.
_RRN = re.compile(r"(?<!\d)\d{2}(0[1-9]|1[0-2])(0[1-9]|[12]\d|3[01])\s*[-–]?\s*[1-8]\d{6}(?!\d)")

RRN_MESSAGE = _l(
    "This looks like a resident registration number. The academy never collects it: "
    "please remove it."
)


def looks_like_rrn(value: object) -> bool:
    """Return True when the text contains something shaped like a resident registration number."""
    return isinstance(value, str) and bool(_RRN.search(value))


def no_rrn(form, field) -> None:  # noqa: ARG001 - WTForms validator signature
    """Refuse a field whose value looks like a resident registration number."""
    if looks_like_rrn(field.data):
        raise ValidationError(RRN_MESSAGE)


class RRNRejectingForm:
    """Mixin: refuse RRN-shaped input in every text field of the form, not only the listed ones."""

    def validate(self, extra_validators=None) -> bool:  # type: ignore[override]
        ok = super().validate(extra_validators)  # type: ignore[misc]
        for field in self:  # type: ignore[attr-defined]
            if isinstance(field.data, str) and looks_like_rrn(field.data):
                field.errors = [*field.errors, str(RRN_MESSAGE)]
                ok = False
        return ok
