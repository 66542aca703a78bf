"""Case URLs: workflow (see cases/urls.py)."""

from django.urls import URLPattern

urlpatterns: list[URLPattern] = []
