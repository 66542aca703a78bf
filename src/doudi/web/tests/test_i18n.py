"""Chinese first, English from the catalogue: language negotiation, the switch, and a complete catalogue."""

from __future__ import annotations

import gettext
import re
from pathlib import Path

from django.urls import reverse

WEB = Path(__file__).resolve().parent.parent
LOCALE = WEB.parent / "locale" / "en" / "LC_MESSAGES"
TRANSLATE_TAG = re.compile(r"""{%\s*translate\s+(["'])(.+?)\1""")


def po_entries(path: Path, *, referenced_from: str = "") -> dict[str, str]:
    """msgid → msgstr of a .po file (first plural form for plural entries); the header is skipped.
    With `referenced_from`, only entries whose source references include that path prefix."""
    entries: dict[str, str] = {}
    key, current, references = None, {"msgctxt": "", "msgid": "", "msgstr": ""}, ""

    def flush() -> None:
        if current["msgid"] and referenced_from in references:
            # a message with a context is stored (and compiled) as "context\x04msgid"
            name = f"{current['msgctxt']}\x04{current['msgid']}" if current["msgctxt"] else current["msgid"]
            entries[name] = current["msgstr"]

    for line in path.read_text(encoding="utf-8").splitlines():
        if line.startswith("#:"):
            if key is not None:
                flush()
                current, key, references = {"msgctxt": "", "msgid": "", "msgstr": ""}, None, ""
            references += line
            continue
        if line.startswith("msgctxt "):
            flush()
            current, key = {"msgctxt": "", "msgid": "", "msgstr": ""}, "msgctxt"
        elif line.startswith("msgid "):
            if key != "msgctxt":
                flush()
                current = {"msgctxt": "", "msgid": "", "msgstr": ""}
            key = "msgid"
        elif line.startswith(("msgstr ", "msgstr[0] ")):
            key = "msgstr"
        elif line.startswith(("msgid_plural", "msgstr[")):
            key = None
            continue
        if key and '"' in line:
            current[key] += (
                line[line.index('"') + 1 : line.rindex('"')]
                .encode()
                .decode("unicode_escape")
                .encode("latin-1")
                .decode("utf-8")
            )
    flush()
    return entries


def test_the_default_language_is_simplified_chinese(client_for):
    html = client_for("county_approver").get(reverse("web:household_list")).content.decode()
    assert '<html lang="zh-CN">' in html
    assert "家庭户查询" in html


def test_a_browser_asking_for_english_still_gets_chinese_until_the_user_chooses_english(client_for):
    client = client_for("county_approver")
    html = client.get(reverse("web:household_list"), headers={"Accept-Language": "en"}).content.decode()
    assert '<html lang="zh-CN">' in html
    client.cookies["django_language"] = "en"
    html = client.get(reverse("web:household_list")).content.decode()
    assert '<html lang="en">' in html
    assert "Household search" in html
    assert "Doudi · Social Assistance Management System" in html
    assert "County approver" in html  # the role label comes from the same catalogue
    assert ">My tasks</a>" in html  # the navigation's 待办 (a step status elsewhere: "To do") has its own context


def test_the_language_switch_sets_english_and_back(client_for):
    client = client_for("village_worker")
    response = client.post(reverse("set_language"), {"language": "en", "next": reverse("web:home")})
    assert response.status_code == 302
    assert "Dashboard" in client.get(reverse("web:home")).content.decode()
    client.post(reverse("set_language"), {"language": "zh-hans", "next": reverse("web:home")})
    assert "工作台" in client.get(reverse("web:home")).content.decode()


def test_the_login_page_and_error_pages_translate(client_for, db):
    from django.test import Client

    english = Client()
    english.cookies["django_language"] = "en"
    assert "Staff login" in english.get(reverse("web:login")).content.decode()
    approver = client_for("county_approver")
    approver.cookies["django_language"] = "en"
    missing = approver.get("/nowhere/")
    assert "Page or record not found" in missing.content.decode()


def test_every_string_of_the_pages_is_translated_and_the_catalogue_is_compiled():
    # Strings of other apps may wait for their translation (they fall back to Chinese); the pages' own may not.
    web_entries = po_entries(LOCALE / "django.po", referenced_from="src/doudi/web/")
    assert len(web_entries) > 150
    assert [msgid for msgid, msgstr in web_entries.items() if not msgstr] == []
    entries = {k: v for k, v in po_entries(LOCALE / "django.po").items() if v}
    with (LOCALE / "django.mo").open("rb") as handle:
        compiled = gettext.GNUTranslations(handle)
    stale = [msgid for msgid, msgstr in entries.items() if compiled.gettext(msgid) != msgstr]
    assert stale == [], "run: manage.py compilemessages"


def test_every_translate_tag_in_the_templates_is_in_the_catalogue():
    entries = po_entries(LOCALE / "django.po")
    missing = {
        f"{path.name}: {text}"
        for path in (WEB / "templates").rglob("*.html")
        for _quote, text in TRANSLATE_TAG.findall(path.read_text(encoding="utf-8"))
        if text not in entries
    }
    assert missing == set(), "run: manage.py makemessages -l en --ignore=.venv, translate, compilemessages"
