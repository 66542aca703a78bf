"""Everything the pages load is vendored: intranets have no internet, so nothing may come from an address."""

from __future__ import annotations

import re
from pathlib import Path

import pytest
from django.contrib.staticfiles import finders
from django.template.loader import get_template

WEB = Path(__file__).resolve().parent.parent
TEMPLATES = sorted((WEB / "templates").rglob("*.html"))
STATIC_TEXT = sorted(p for p in (WEB / "static").rglob("*") if p.suffix in {".html", ".css", ".js", ".svg"})
STATIC_TAG = re.compile(r"""{%\s*static\s+['"]([^'"]+)['"]\s*%}""")
REMOTE_LOAD = re.compile(
    r"""(?:\b(?:src|href|action|srcset|poster|data)\s*=\s*["']?\s*(?:https?:)?//)"""
    r"""|(?:url\(\s*["']?\s*(?:https?:)?//)"""
    r"""|(?:@import\s+(?:url\()?\s*["']?\s*(?:https?:)?//)""",
    re.IGNORECASE,
)


def test_there_are_templates_and_static_files_to_check():
    assert len(TEMPLATES) >= 10
    assert any(p.name == "htmx.min.js" for p in STATIC_TEXT)


@pytest.mark.parametrize("path", TEMPLATES, ids=lambda p: p.name)
def test_every_static_reference_in_a_template_resolves_to_a_vendored_file(path):
    for ref in STATIC_TAG.findall(path.read_text(encoding="utf-8")):
        assert finders.find(ref) is not None, f"{path.name}: {ref} is not a file under static/"


@pytest.mark.parametrize("path", TEMPLATES, ids=lambda p: p.name)
def test_no_template_contains_an_internet_address(path):
    text = path.read_text(encoding="utf-8")
    assert "http://" not in text and "https://" not in text, path.name
    assert not REMOTE_LOAD.search(text), path.name


@pytest.mark.parametrize("path", STATIC_TEXT, ids=lambda p: str(p.relative_to(WEB / "static")))
def test_no_static_file_loads_anything_from_an_address(path):
    match = REMOTE_LOAD.search(path.read_text(encoding="utf-8"))
    assert match is None, f"{path}: {match.group(0) if match else ''}"


def test_the_scan_catches_a_cdn_link():
    assert REMOTE_LOAD.search('<script src="https://cdn.example.com/htmx.js"></script>')
    assert REMOTE_LOAD.search("<link href='//cdn.example.com/x.css'>")
    assert REMOTE_LOAD.search("body { background: url( 'http://example.com/a.png') }")
    assert REMOTE_LOAD.search('@import "https://fonts.example.com/css";')
    assert not REMOTE_LOAD.search('<svg xmlns="http://www.w3.org/2000/svg">')


def test_vendored_libraries_keep_their_licences():
    vendor = WEB / "static" / "web" / "vendor"
    assert (vendor / "htmx" / "LICENSE").is_file()
    assert (vendor / "echarts" / "LICENSE").is_file() and (vendor / "echarts" / "NOTICE").is_file()
    assert "0BSD" in (vendor / "htmx" / "htmx.min.js").read_text(encoding="utf-8")[:300]


@pytest.mark.parametrize("path", TEMPLATES, ids=lambda p: p.name)
def test_every_template_compiles(path):
    get_template(str(path.relative_to(WEB / "templates")))


def test_the_stylesheet_uses_the_chinese_system_font_stack():
    css = (WEB / "static" / "web" / "css" / "doudi.css").read_text(encoding="utf-8")
    for font in ['"PingFang SC"', '"Microsoft YaHei"', '"Noto Sans CJK SC"', '"WenQuanYi Micro Hei"']:
        assert font in css
