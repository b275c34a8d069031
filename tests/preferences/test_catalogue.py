"""The compiled Chinese catalogue covers every portal string."""

from __future__ import annotations

import ast
import gettext
from pathlib import Path

import pytest

LOCALE = Path(__file__).resolve().parents[2] / "locale"
PORTAL_SOURCES = (
    "templates/portal/",
    "templates/base.html",
    "preferences/",
    "consent/links.py",
    "consent/erasure.py",
    "consent/lifecycle.py",
)


def _portal_entries(po: Path) -> list[tuple[str, str | None]]:
    """(msgid, msgid_plural) of entries referenced from portal files."""
    entries = []
    for block in po.read_text(encoding="utf-8").split("\n\n"):
        lines = block.splitlines()
        refs = " ".join(line[3:] for line in lines if line.startswith("#: "))
        if not any(source in refs for source in PORTAL_SOURCES):
            continue
        fields: dict[str, str] = {}
        current = None
        for line in lines:
            if line.startswith(("msgid ", "msgid_plural ", "msgstr")):
                current, _sep, rest = line.partition(" ")
                fields[current] = ast.literal_eval(rest)
            elif line.startswith('"') and current:
                fields[current] += ast.literal_eval(line)
        entries.append((fields["msgid"], fields.get("msgid_plural")))
    return entries


@pytest.mark.parametrize("language", ["zh_Hans"])
def test_every_portal_string_is_translated(language):
    po = LOCALE / language / "LC_MESSAGES" / "django.po"
    mo = LOCALE / language / "LC_MESSAGES" / "django.mo"
    with mo.open("rb") as handle:
        catalogue = gettext.GNUTranslations(handle)
    entries = _portal_entries(po)
    assert len(entries) > 300
    missing = [
        msgid
        for msgid, plural in entries
        if (
            catalogue.ngettext(msgid, plural, 2) if plural else catalogue.gettext(msgid)
        )
        in (msgid, plural)
    ]
    assert missing == []


def test_english_catalogue_is_compiled():
    assert (LOCALE / "en" / "LC_MESSAGES" / "django.mo").exists()
