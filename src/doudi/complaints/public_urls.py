"""The public complaint and report forms under /public/complaints/ (no login)."""

from django.urls import path

from doudi.complaints import public_views

app_name = "complaints_public"
urlpatterns = [
    path("", public_views.complaint_new, name="new"),
    path("lookup/", public_views.complaint_lookup, name="lookup"),
]
