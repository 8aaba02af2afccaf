"""Every message of the company pages has a Korean translation (Korean is the default language)."""
from __future__ import annotations

from tests.universities.test_catalogue import source_messages, untranslated


def test_every_message_is_translated_into_korean():
    assert len(source_messages("companies")) > 50
    assert untranslated("companies") == []
