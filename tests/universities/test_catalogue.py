"""Every message of the universities pages has a Korean translation (Korean is the default language)."""
from __future__ import annotations

from pathlib import Path

import pytest
from babel.messages.extract import DEFAULT_KEYWORDS, extract_from_file
from babel.messages.pofile import read_po

REPO = Path(__file__).resolve().parents[2]
KEYWORDS = {**DEFAULT_KEYWORDS, "_l": None}


def source_messages(domain: str) -> set[str]:
    """Return every msgid the domain's Python files and templates mark for translation."""
    files = [(p, "python") for p in (REPO / "academy" / domain).glob("*.py")]
    files += [(p, "jinja2") for p in (REPO / "academy" / "templates" / domain).glob("*.html")]
    found: set[str] = set()
    for path, method in files:
        for _line, message, _comments, _context in extract_from_file(method, str(path), keywords=KEYWORDS):
            found.add(message if isinstance(message, str) else message[0])
    return found


def untranslated(domain: str) -> list[str]:
    """Return the domain's msgids missing, empty or fuzzy in its Korean catalogue."""
    po = REPO / "academy" / domain / "translations" / "ko" / "LC_MESSAGES" / "messages.po"
    with po.open("rb") as f:
        catalogue = read_po(f, locale="ko")
    done = {m.id for m in catalogue if m.id and m.string and not m.fuzzy}
    return sorted(source_messages(domain) - done)


@pytest.mark.parametrize("domain", ["universities"])
def test_every_message_is_translated_into_korean(domain):
    assert source_messages(domain), "no messages found: the extraction is broken"
    assert untranslated(domain) == []
