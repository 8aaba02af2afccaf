"""Clear refusals of bad requests, in the request's language, before any of them can become a 500.

* Ids in URLs are whole numbers a database row can have: past 2**31 - 1 (a PostgreSQL integer) no
  record exists, and SQLite cannot even compare a number past 2**63 - 1, so the route does not match (404).
* Pages take form posts, not JSON: Flask-WTF would feed a JSON list or number to a form and fail (415).
  Machine endpoints take JSON objects only, nested no deeper than the parser can follow (400).
* Text never carries NUL characters: PostgreSQL cannot store them (400). Files are not text and are
  left alone; JSON results from the grader may quote a notebook's output, so their services clean them.
* Every 4xx, whoever raised it, is answered with a page in Korean or English (JSON on machine endpoints).
"""
from __future__ import annotations

import json
from typing import Any

from flask import Flask, Response, jsonify, render_template, request
from flask_babel import lazy_gettext as _l
from flask_wtf.csrf import CSRFError
from werkzeug.exceptions import BadRequest, HTTPException, UnsupportedMediaType
from werkzeug.routing import IntegerConverter

from academy.validators import MAX_ID

MESSAGES = {
    400: _l("The request could not be understood. Go back, check what you entered and try again."),
    401: _l("Sign in again: the access token is missing, expired or revoked."),
    403: _l("You may not do this."),
    404: _l("Not found."),
    405: _l("This address does not take that kind of request."),
    409: _l("This changed meanwhile. Reload the page and try again."),
    410: _l("This is no longer available."),
    413: _l("What you sent is too large."),
    415: _l("This address takes form posts, not JSON."),
    422: _l("What you sent could not be processed. Check it and try again."),
    429: _l("Too many requests. Wait a little and try again."),
}
CSRF_MESSAGE = _l("The form expired or was sent from elsewhere (CSRF check). Reload the page and send it again.")
NUL_MESSAGE = _l("Text may not contain NUL characters.")
JSON_OBJECT_MESSAGE = _l("The body must be a JSON object.")


class IdConverter(IntegerConverter):
    """A record id in a URL: up to ten digits and at most MAX_ID; anything else matches no route."""

    regex = r"\d{1,10}"

    def __init__(self, map, fixed_digits: int = 0, min: int | None = None, max: int | None = MAX_ID,  # noqa: A002
                 signed: bool = False) -> None:
        super().__init__(map, fixed_digits=fixed_digits, min=min, max=max, signed=signed)


def _machine_route() -> bool:
    """Whether the request is for an endpoint that authenticates by token (it answers JSON)."""
    from academy.policy import TOKEN, policy_of

    if request.path.startswith("/api/"):
        return True
    view = request.url_rule and request.url_rule.endpoint
    function = view and _views().get(view)
    return bool(function and TOKEN in (policy_of(function) or ()))


def _views() -> dict:
    from flask import current_app

    return current_app.view_functions


def _has_nul(values) -> bool:
    return any("\x00" in key or "\x00" in value for key, value in values)


def _refuse_malformed() -> None:
    """Refuse, before any view runs, the bodies and text no route of the portal takes."""
    if request.view_args and any(isinstance(v, str) and "\x00" in v for v in request.view_args.values()):
        raise BadRequest(str(NUL_MESSAGE))
    if _has_nul(request.args.items(multi=True)):
        raise BadRequest(str(NUL_MESSAGE))
    if request.method not in {"POST", "PUT", "PATCH", "DELETE"}:
        return
    if request.is_json:
        if not _machine_route():
            raise UnsupportedMediaType(str(MESSAGES[415]))
        _json_object()
    elif _has_nul(request.form.items(multi=True)):
        raise BadRequest(str(NUL_MESSAGE))


def _json_object() -> None:
    """Parse the JSON body once: it must be an object of well-formed text, nested within reason."""
    try:
        data = json.loads(request.get_data(cache=True) or b"null")
    except (ValueError, RecursionError):
        raise BadRequest(str(MESSAGES[400])) from None
    if not isinstance(data, dict):
        raise BadRequest(str(JSON_OBJECT_MESSAGE))
    if not _well_formed(data):
        raise BadRequest(str(MESSAGES[400]))


def _well_formed(value: Any) -> bool:
    """Whether every string of a parsed JSON value encodes as UTF-8 (a lone surrogate does not)."""
    stack = [value]
    while stack:
        item = stack.pop()
        if isinstance(item, str):
            try:
                item.encode("utf-8")
            except UnicodeEncodeError:
                return False
        elif isinstance(item, dict):
            stack.extend(item.keys())
            stack.extend(item.values())
        elif isinstance(item, list):
            stack.extend(item)
    return True


def _message(exc: HTTPException) -> str:
    if isinstance(exc, CSRFError):
        return str(CSRF_MESSAGE)
    default = type(exc).description
    # A view's own words (abort(404, description=...)) win over the generic message.
    if exc.description and exc.description != default:
        return str(exc.description)
    return str(MESSAGES.get(exc.code or 400, exc.name))


def answer(exc: HTTPException) -> Response | HTTPException:
    """Answer a refusal in the request's language: JSON for machine endpoints, a page for people."""
    if exc.code is None or exc.code < 400 or exc.code >= 500:
        return exc  # redirects pass through; server errors keep Flask's own handling
    message = _message(exc)
    if _machine_route() or request.accept_mimetypes.best == "application/json":
        response = jsonify(error=message)
    else:
        try:
            response = Response(render_template("errors/error.html", code=exc.code, message=message),
                                mimetype="text/html")
        except Exception:  # noqa: BLE001 - the refusal must reach the user even if the page cannot render
            response = Response(message, mimetype="text/plain")
    response.status_code = exc.code
    for key, value in exc.get_headers():
        if key.lower() not in {"content-type", "content-length"}:
            response.headers[key] = value
    if getattr(exc, "response", None) is not None:  # e.g. 401 with WWW-Authenticate, 429 with Retry-After
        for key, value in exc.response.headers.items():
            if key.lower() not in {"content-type", "content-length"}:
                response.headers.setdefault(key, value)
    return response


def init_app(app: Flask) -> None:
    """Install the bounded id converter (call before blueprints), the malformed-input guard and the 4xx pages."""
    app.url_map.converters["int"] = IdConverter
    app.before_request(_refuse_malformed)
    app.register_error_handler(HTTPException, answer)
