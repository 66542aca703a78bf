"""Integrity pages under /integrity/ (docs/integrity.md §8)."""

from django.urls import path

from doudi.integrity import views

app_name = "integrity"
urlpatterns = [
    path("", views.overview, name="overview"),
    path("findings/", views.finding_list, name="finding_list"),
    path("findings/<int:finding_id>/", views.finding_detail, name="finding_detail"),
    path("findings/<int:finding_id>/assign/", views.finding_assign, name="finding_assign"),
    path("findings/<int:finding_id>/resolve/", views.finding_resolve, name="finding_resolve"),
    path("findings/<int:finding_id>/dismiss/", views.finding_dismiss, name="finding_dismiss"),
    path("runs/", views.run_list, name="run_list"),
    path("staff/", views.staff_list, name="staff_list"),
    path("staff/template.<str:fmt>", views.staff_template, name="staff_template"),
]
