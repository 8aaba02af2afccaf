"""Forms as the pages render them, and the hostile values each kind of field must survive.

The walker does not keep a list of the portal's forms: it reads them from the pages it renders
(action, method, each field's name, type, options, required, maxlength, min/max), so a form added
tomorrow is attacked tomorrow.
"""
from __future__ import annotations

import math
from dataclasses import dataclass, field
from datetime import date, timedelta
from html.parser import HTMLParser


@dataclass
class Field:
    name: str
    kind: str  # unknown (read by the view, not on a page), text, textarea, number, date, datetime-local, email, url, password, select, checkbox, radio, hidden, file, submit
    value: str = ""
    options: list[str] = field(default_factory=list)
    required: bool = False
    maxlength: int | None = None
    minimum: str | None = None
    maximum: str | None = None
    checked: bool = False
    multiple: bool = False


@dataclass
class Form:
    action: str
    method: str
    fields: list[Field] = field(default_factory=list)

    def names(self) -> list[str]:
        return list(dict.fromkeys(f.name for f in self.fields if f.name))


class _Parser(HTMLParser):
    def __init__(self) -> None:
        super().__init__(convert_charrefs=True)
        self.forms: list[Form] = []
        self._form: Form | None = None
        self._select: Field | None = None
        self._option: str | None = None
        self._option_selected = False
        self._textarea: Field | None = None

    def handle_starttag(self, tag: str, attrs: list[tuple[str, str | None]]) -> None:
        a = {k: (v if v is not None else "") for k, v in attrs}
        if tag == "form":
            self._form = Form(action=a.get("action", ""), method=a.get("method", "get").lower())
            self.forms.append(self._form)
            return
        if self._form is None:
            return
        name = a.get("name", "")
        maxlength = int(a["maxlength"]) if a.get("maxlength", "").isdigit() else None
        if tag == "input":
            kind = a.get("type", "text").lower()
            self._form.fields.append(Field(name, kind, a.get("value", ""), required="required" in a,
                                           maxlength=maxlength, minimum=a.get("min"), maximum=a.get("max"),
                                           checked="checked" in a))
        elif tag == "button" and name:
            self._form.fields.append(Field(name, "submit", a.get("value", "")))
        elif tag == "select":
            self._select = Field(name, "select", required="required" in a, multiple="multiple" in a)
            self._form.fields.append(self._select)
        elif tag == "option" and self._select is not None:
            self._option = a.get("value")
            self._option_selected = "selected" in a
            if self._option is not None:
                self._add_option(self._option)
        elif tag == "textarea":
            self._textarea = Field(name, "textarea", required="required" in a, maxlength=maxlength)
            self._form.fields.append(self._textarea)

    def _add_option(self, value: str) -> None:
        assert self._select is not None
        self._select.options.append(value)
        if self._option_selected or (not self._select.value and value and not self._select.options[:-1]):
            self._select.value = value

    def handle_data(self, data: str) -> None:
        if self._textarea is not None:
            self._textarea.value += data

    def handle_endtag(self, tag: str) -> None:
        if tag == "form":
            self._form = None
        elif tag == "select":
            self._select = None
        elif tag == "option":
            self._option = None
        elif tag == "textarea":
            self._textarea = None


def parse_forms(html: str) -> list[Form]:
    """Return the forms of a page."""
    parser = _Parser()
    parser.feed(html)
    return parser.forms


# --- a body a browser would send -------------------------------------------------------------


def _future(days: int = 30) -> date:
    return date.today() + timedelta(days=days)


def plausible(f: Field, salt: str = "") -> str | None:
    """Return what a person filling the form would send for the field (None: leave it out).

    Text the walker makes up carries the salt, so a second new record is not refused as a duplicate
    of the first (which would hide what the value under attack does).
    """
    if f.kind in {"checkbox", "radio"}:
        return f.value or "y" if f.checked or f.required else None
    if f.kind == "select":
        return f.value or next((o for o in f.options if o), "")
    if f.value:
        return f.value
    if f.kind == "number":
        return f.minimum if f.minimum not in (None, "") else "1"
    if f.kind == "date":
        return _future().isoformat()
    if f.kind == "datetime-local":
        return f"{_future().isoformat()}T12:00"
    if f.kind == "email":
        return f"walker{salt}@example.org"
    if f.kind == "url":
        return "https://example.org/walker"
    if f.kind == "password":
        return "Walker-password-123456"
    if f.kind in {"text", "textarea", "search", "tel"}:
        return f"walker{salt}" if f.required or f.kind == "textarea" else ""
    return ""


def baseline(form: Form, salt: str = "") -> list[tuple[str, str]]:
    """Return the body a person would post with this form (first submit button pressed)."""
    body: list[tuple[str, str]] = []
    pressed = False
    radios: set[str] = set()
    for f in form.fields:
        if not f.name or f.kind == "file" or f.name == "csrf_token":  # the walker sends its own token, or none
            continue
        if f.kind == "submit":
            if not pressed:
                body.append((f.name, f.value))
                pressed = True
            continue
        if f.kind == "radio":
            if f.name in radios:
                continue
            radios.add(f.name)
            value = f.value if f.checked else next((g.value for g in form.fields if g.name == f.name), f.value)
            body.append((f.name, value))
            continue
        value = plausible(f, salt)
        if value is not None:
            body.append((f.name, value))
    return body


# --- hostile values, by kind of field --------------------------------------------------------

HUGE = "9" * 30
# Any field: (value, must be refused?)
ANY_FIELD = [
    ("x" * 100_000, True),            # oversized: far past any column
    ("walker\x00nul", True),          # NUL: PostgreSQL cannot store it in text
    ("한글 \u202e🙂 ﷽", False),       # unicode, bidi override, astral plane
    ("../../../../etc/passwd", False),
    ("<script>alert(1)</script>{{7*7}}%s", False),
]
NUMBER = [("abc", True), ("NaN", True), ("Infinity", True), ("-Infinity", True), ("1e309", True), (HUGE, True),
          ("-" + HUGE, True), ("-1", False), ("0", False), ("1.5", False), ("2147483648", False), ("", False)]
DATE = [("2027-02-30", True), ("yesterday", True), ("99999-01-01", True), ("0001-01-01", False),
        ("9999-12-31", False), ("", False)]
DATETIME = [("2027-02-30T12:00", True), ("soon", True), ("99999-01-01T00:00", True), ("2027-01-01T25:61", True),
            ("0001-01-01T00:00", False), ("9999-12-31T23:59", False), ("", False)]
CHOICE = [("not-an-option", True), (HUGE, True), ("-1", True), ("", False)]
EMAIL = [("not-an-email", True), ("a@" + "b" * 300 + ".org", True)]
URL = [("javascript:alert(1)", False), ("http://" + "a" * 5000 + ".org", True)]


def hostile(f: Field) -> list[tuple[str, bool]]:
    """Return hostile values for a field and whether each must be refused with a 4xx."""
    values = list(ANY_FIELD)
    if f.kind in {"checkbox", "submit", "unknown"} or (f.kind == "hidden" and not f.value.isdigit()):
        # A box, a button, a hidden text (a return address) or a field no page shows may be read as
        # "anything but yes" or ignored rather than refused: it only must not fail.
        return [(v, False) for v, _bad in values]
    if f.maxlength:
        values.append(("y" * (f.maxlength + 1), True))
    if f.kind == "number" or (f.kind == "hidden" and f.value.isdigit()):
        values += NUMBER if f.kind == "number" else [(v, bad) for v, bad in NUMBER if v]
        if f.kind == "hidden":
            # A hidden id another page filled in: nothing but a whole number is ever valid there.
            values = [(v, bad or not _is_int(v)) for v, bad in values if v != "1.5"] + [("1.5", True)]
        values += _out_of_range(f)
    elif f.kind == "date":
        values += DATE
    elif f.kind == "datetime-local":
        values += DATETIME
    elif f.kind in {"select", "radio"} and f.options:
        values += [(v, bad and v not in f.options) for v, bad in CHOICE]
    elif f.kind == "email":
        values += EMAIL
    elif f.kind == "url":
        values += URL
    if f.required:
        values.append(("", True))
    return values


def _is_int(value: str) -> bool:
    try:
        int(value)
    except ValueError:
        return False
    return True


def _out_of_range(f: Field) -> list[tuple[str, bool]]:
    """Values just outside the field's declared min and max."""
    out = []
    for bound, step in ((f.minimum, -1), (f.maximum, 1)):
        try:
            number = float(bound) if bound not in (None, "") else math.nan
        except ValueError:
            continue
        if math.isfinite(number):
            out.append((repr(int(number) + step) if number.is_integer() else repr(number + step), True))
    return out
