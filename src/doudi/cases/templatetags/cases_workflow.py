"""Template helpers of the case workflow pages."""

from __future__ import annotations

from typing import Any

from django import template
from django.urls import NoReverseMatch, reverse

register = template.Library()

STEP_BADGES = {"pending": "blue", "done": "green", "rejected": "red", "skipped": ""}


@register.simple_tag
def optional_url(name: str, *args: Any) -> str:
    """The URL of a named route, or "" when that page is not installed (documents are built separately)."""
    try:
        return reverse(name, args=args)
    except NoReverseMatch:
        return ""


@register.filter
def step_badge(status: str) -> str:
    return STEP_BADGES.get(status, "")
