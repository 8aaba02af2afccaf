"""Language and time zone: Korean by default, English on request, Seoul time on every page."""
from __future__ import annotations

from flask import Flask, current_app, has_request_context, request, session
from flask_babel import format_datetime, get_locale
from flask_login import current_user


def select_locale() -> str:
    """Pick the session's language, else the user's saved one, else the browser's, else Korean."""
    languages = current_app.config["LANGUAGES"]
    if not has_request_context():
        return current_app.config["BABEL_DEFAULT_LOCALE"]  # commands speak the default language
    chosen = session.get("lang")
    if chosen in languages:
        return chosen
    if current_user and current_user.is_authenticated and current_user.locale in languages:
        return current_user.locale
    # Korean is the default: only a browser that prefers English over Korean gets English.
    best = request.accept_languages.best_match(languages)
    return best or current_app.config["BABEL_DEFAULT_LOCALE"]


def select_timezone() -> str:
    return current_app.config["BABEL_DEFAULT_TIMEZONE"]


def localized(obj, attr: str) -> str:
    """Return obj.<attr>_ko or obj.<attr>_en by the current language."""
    lang = str(get_locale() or "ko")
    return getattr(obj, f"{attr}_{'ko' if lang == 'ko' else 'en'}")


def pair(names: dict, key: str) -> str:
    """Return the current language's name from a {key: (ko, en)} table."""
    ko, en = names.get(key, (key, key))
    return ko if str(get_locale() or "ko") == "ko" else en


def init_app(app: Flask) -> None:
    app.jinja_env.globals.update(localized=localized, pair=pair, get_locale=get_locale)
    app.jinja_env.filters["dt"] = lambda value, fmt="yyyy-MM-dd HH:mm": format_datetime(value, fmt) if value else ""
