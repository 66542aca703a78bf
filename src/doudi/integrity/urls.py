"""Integrity pages under /integrity/."""

from django.urls import path

from doudi.integrity import views

app_name = "integrity"
urlpatterns = [path("", views.overview, name="overview")]
