"""Korean by default, English on request, and every message translated into Korean."""
from __future__ import annotations

from pathlib import Path

from babel.messages.extract import extract_from_dir
from flask_babel import force_locale, gettext

ACADEMY = Path(__file__).resolve().parents[1] / "academy"
METHOD_MAP = [("**.py", "python"), ("**/templates/**.html", "jinja2")]


def test_pages_are_korean_by_default_and_english_on_request(client):
    page = client.get("/login").get_data(as_text=True)
    assert "로그인" in page and 'lang="ko"' in page
    response = client.post("/lang/en", data={"next": "/login"})
    assert response.headers["Location"] == "/login"
    page = client.get("/login").get_data(as_text=True)
    assert "Sign in" in page and 'lang="en"' in page
    client.post("/lang/ko")
    assert "로그인" in client.get("/login").get_data(as_text=True)


def test_a_browser_that_prefers_english_gets_english(client):
    page = client.get("/login", headers={"Accept-Language": "en-US,en;q=0.9"}).get_data(as_text=True)
    assert "Sign in" in page


def test_unknown_language_is_refused(client):
    assert client.post("/lang/fr").status_code == 404


def test_every_message_has_a_korean_translation(app):
    messages = {
        msgid
        for _file, _line, msgid, *_rest in extract_from_dir(
            str(ACADEMY), METHOD_MAP, keywords={"_": None, "gettext": None, "_l": None, "lazy_gettext": None,
                                                "ngettext": (1, 2)}
        )
    }
    untranslated = []
    with app.test_request_context():
        with force_locale("ko"):
            for msgid in sorted(m for m in messages if isinstance(m, str) and m):
                if gettext(msgid) == msgid and any(c.isalpha() and c.isascii() for c in msgid):
                    untranslated.append(msgid)
    assert untranslated == [], f"{len(untranslated)} message(s) without Korean: {untranslated[:20]}"


def test_the_dt_filter_writes_what_flask_babel_writes(app):
    """The numeric date patterns are written with strftime after flask_babel's own time zone conversion; they must
    read exactly as flask_babel.format_datetime writes them (Seoul time, either language, naive = UTC)."""
    from datetime import datetime, timedelta, timezone

    from flask_babel import format_datetime

    from academy.i18n import NUMERIC_PATTERNS, dt

    moments = [datetime(2026, 12, 31, 15, 30, 5), datetime(2026, 3, 1, 0, 0, 59),
               datetime(2026, 6, 30, 23, 59, 0, tzinfo=timezone(timedelta(hours=-7)))]
    for language in ("ko", "en"):
        with app.test_request_context("/"), force_locale(language):
            for moment in moments:
                for pattern in NUMERIC_PATTERNS:
                    assert dt(moment, pattern) == format_datetime(moment, pattern)
                assert dt(moment, "yyyy. M. d. a h:mm") == format_datetime(moment, "yyyy. M. d. a h:mm")
            assert dt(datetime(2026, 12, 31, 15, 30)) == "2027-01-01 00:30"  # 15:30 UTC is 00:30 in Seoul
            assert dt(None) == ""


def test_a_template_speaks_the_language_forced_for_an_email_within_a_request(app):
    """Templates' `_()` reuses the request's translations, but only while the language is the same: an e-mail
    rendered in its reader's language (force_locale) in the middle of a Korean page is English, and the page
    after it is Korean again. (Fails if the reuse ignores the locale: the e-mail comes out in Korean.)"""
    from flask import render_template_string

    with app.test_request_context("/", headers={"Accept-Language": "ko"}):
        assert render_template_string("{{ _('Sign in') }}") == "로그인"
        with force_locale("en"):
            assert render_template_string("{{ _('Sign in') }}") == "Sign in"
            assert render_template_string("{{ ngettext('%(num)d day', '%(num)d days', 2) }}").endswith("days")
        assert render_template_string("{{ _('Sign in') }}") == "로그인"


def test_names_follow_the_language_forced_within_a_request(app):
    """localized() and pair() reuse the request's language only while it is the same (fails if the reuse ignores
    force_locale: the English e-mail names the university in Korean)."""
    from types import SimpleNamespace

    from academy.i18n import localized, pair

    uni = SimpleNamespace(name_ko="경남대학교", name_en="Kyungnam University")
    with app.test_request_context("/", headers={"Accept-Language": "ko"}):
        assert localized(uni, "name") == "경남대학교"
        with force_locale("en"):
            assert localized(uni, "name") == "Kyungnam University"
            assert pair({"x": ("가", "A")}, "x") == "A"
        assert localized(uni, "name") == "경남대학교" and pair({"x": ("가", "A")}, "x") == "가"
