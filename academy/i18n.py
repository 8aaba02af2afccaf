"""Language and time zone: Korean by default, English on request, Seoul time on every page."""
from __future__ import annotations

from flask import Flask, current_app, g, has_request_context, request, session
from flask_babel import format_datetime, get_locale, get_translations, to_user_timezone
from flask_login import current_user

# Patterns whose output is digits and separators only, the same in every language: written with strftime
# after the same conversion to the user's time zone that flask_babel.format_datetime makes (~10x faster;
# tests/test_i18n.py checks both agree).
NUMERIC_PATTERNS = {"yyyy-MM-dd HH:mm": "%Y-%m-%d %H:%M", "yyyy-MM-dd HH:mm:ss": "%Y-%m-%d %H:%M:%S",
                    "yyyy-MM-dd": "%Y-%m-%d"}


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


def _per_locale(name: str, look_up):
    """Return look_up()'s value, reused while flask_babel's state names the same Locale object (so force_locale,
    an e-mail in its reader's language, and a language change take effect at once)."""
    state = g.get("_flask_babel") if g else None
    locale = getattr(state, "babel_locale", None)
    kept = getattr(state, name, None)
    if kept is not None and locale is not None and kept[0] is locale:
        return kept[1]
    found = look_up()
    state = g.get("_flask_babel") if g else None  # the look-up made it where there was none
    if state is not None and getattr(state, "babel_locale", None) is not None:
        setattr(state, name, (state.babel_locale, found))
    return found


def language() -> str:
    """The current language's code ("ko" or "en"), named once per locale rather than on every call."""
    return _per_locale("academy_language", lambda: str(get_locale() or "ko"))


def localized(obj, attr: str) -> str:
    """Return obj.<attr>_ko or obj.<attr>_en by the current language."""
    return getattr(obj, f"{attr}_{'ko' if language() == 'ko' else 'en'}")


def pair(names: dict, key: str) -> str:
    """Return the current language's name from a {key: (ko, en)} table."""
    ko, en = names.get(key, (key, key))
    return ko if language() == "ko" else en


def dt(value, fmt: str = "yyyy-MM-dd HH:mm") -> str:
    """Format a date and time in the user's time zone (the templates' `dt` filter)."""
    if not value:
        return ""
    numeric = NUMERIC_PATTERNS.get(fmt)
    return to_user_timezone(value).strftime(numeric) if numeric else format_datetime(value, fmt)


def translations():
    """The request's translations, looked up once per language rather than on every `_()` of a template
    (flask_babel.get_translations walks g, the domain and the locale selector on each call: a page of a hundred
    rows spent half its time there)."""
    return _per_locale("academy_translations", get_translations)


def init_app(app: Flask) -> None:
    app.jinja_env.globals.update(localized=localized, pair=pair, get_locale=get_locale, current_language=language)
    app.jinja_env.filters["dt"] = dt
    app.jinja_env.install_gettext_callables(
        gettext=lambda s: translations().ugettext(s),
        ngettext=lambda s, p, n: translations().ungettext(s, p, n),
        pgettext=lambda c, s: translations().upgettext(c, s),
        npgettext=lambda c, s, p, n: translations().unpgettext(c, s, p, n),
        newstyle=True,
    )
