"""Input checks shared by forms and imports."""
from __future__ import annotations

import math
import re
from typing import NoReturn

from flask import abort, request
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


class RRNRejectingForm:
    """Mixin: refuse RRN-shaped input in every text field of the form, not only the listed ones."""

    def validate(self, extra_validators=None) -> bool:  # type: ignore[override]
        ok = super().validate(extra_validators)  # type: ignore[misc]
        for field in self:  # type: ignore[attr-defined]
            if isinstance(field.data, str) and looks_like_rrn(field.data):
                field.errors = [*field.errors, str(RRN_MESSAGE)]
                ok = False
        return ok


FINITE_MESSAGE = _l("Enter a number.")
YEARS_MESSAGE = _l("Enter a date between the years %(low)d and %(high)d.")


def finite(form, field) -> None:  # noqa: ARG001 - WTForms validator signature
    """Refuse NaN and the infinities, which NumberRange lets through (every comparison with NaN is false)."""
    if isinstance(field.data, float) and not math.isfinite(field.data):
        raise ValidationError(FINITE_MESSAGE)


def within_years(low: int = 2000, high: int = 2100):
    """Return a validator keeping a date or datetime within [low, high]: year 1 or 9999 breaks time-zone sums."""
    def check(form, field) -> None:  # noqa: ARG001
        if field.data is not None and not low <= field.data.year <= high:
            raise ValidationError(YEARS_MESSAGE % {"low": low, "high": high})

    return check


# The largest id a row can have: PostgreSQL integer columns stop here (SQLite cannot even compare
# a number past 2**63 - 1), so a larger one names nothing and must never reach a query.
MAX_ID = 2**31 - 1


def as_id(value: object) -> int | None:
    """Return the text as a record id, or None when it cannot be one."""
    text = value.strip() if isinstance(value, str) else ""
    if not text.isdecimal() or len(text) > 10:
        return None
    number = int(text)
    return number if 0 < number <= MAX_ID else None


def id_arg(name: str) -> int | None:
    """Return the query argument as a record id, or None when it is absent or cannot be one."""
    return as_id(request.args.get(name))


def id_field(name: str) -> int:
    """Return the posted field as a record id; a missing or malformed one is refused (400)."""
    number = as_id(request.form.get(name))
    if number is None:
        abort(400)
    return number


def int_arg(name: str, low: int, high: int) -> int | None:
    """Return the query argument as a whole number within [low, high], or None."""
    value = request.args.get(name, "").strip()
    if not value.isdecimal() or len(value) > 10:
        return None
    number = int(value)
    return number if low <= number <= high else None


def refuse_form(form) -> NoReturn:
    """Refuse a form that failed validation with 400, naming what is wrong (the page says it in full)."""
    errors = [str(e) for messages in form.errors.values() for e in (messages if isinstance(messages, list) else [])]
    abort(400, description=" ".join(errors) or None)
