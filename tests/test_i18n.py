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
