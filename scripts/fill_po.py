"""Create or update a Korean catalogue from a template and a dict of translations.

    python scripts/fill_po.py TEMPLATE.pot academy/<pkg>/translations translations.py
translations.py defines KO = {msgid: Korean}. Existing translations are kept; msgids no longer
in the template are dropped; the script lists any msgid still without Korean.
"""
from __future__ import annotations

import runpy
import sys
from pathlib import Path

from babel.messages.catalog import Catalog
from babel.messages.pofile import read_po, write_po


def main(pot: str, directory: str, source: str) -> int:
    with open(pot, "rb") as f:
        template = read_po(f)
    path = Path(directory) / "ko" / "LC_MESSAGES" / "messages.po"
    old: dict[str, str] = {}
    if path.exists():
        with path.open("rb") as f:
            old = {m.id: m.string for m in read_po(f) if m.id and m.string}
    new = runpy.run_path(source)["KO"] if source else {}
    catalog = Catalog(locale="ko", project="academy", charset="utf-8")
    missing = []
    for message in template:
        if not message.id:
            continue
        string = new.get(message.id) or old.get(message.id) or ""
        if not string:
            missing.append(message.id)
        catalog.add(message.id, string, locations=message.locations)
    path.parent.mkdir(parents=True, exist_ok=True)
    with path.open("wb") as f:
        write_po(f, catalog, width=100, omit_header=False)
    for m in missing:
        print(f"untranslated: {m!r}")
    return 1 if missing else 0


if __name__ == "__main__":
    sys.exit(main(*sys.argv[1:4]))
