"""Verification (核对) pages under /verification/."""

from django.urls import path

from doudi.verification import views

app_name = "verification"
urlpatterns = [
    path("", views.index, name="index"),
    path("runs/new/", views.run_create, name="run_create"),
    path("runs/<int:run_id>/", views.run_detail, name="run_detail"),
    path("runs/<int:run_id>/progress/", views.run_progress, name="run_progress"),
    path("runs/<int:run_id>/households/<int:household_id>/notice/", views.notice_add, name="notice_add"),
    path("sources/", views.source_list, name="source_list"),
    path("sources/<int:batch_id>/", views.source_detail, name="source_detail"),
    path("sources/<int:batch_id>/rejects.csv", views.source_rejects, name="source_rejects"),
    path("cases/<int:application_id>/run/", views.application_run, name="application_run"),
    path("cases/<int:application_id>/complete/", views.step_complete, name="step_complete"),
    path("hits/<int:hit_id>/dispute/", views.dispute_add, name="dispute_add"),
    path("hits/<int:hit_id>/outcome/", views.outcome_set, name="outcome_set"),
    path("evidence/<int:evidence_id>/", views.evidence_file, name="evidence_file"),
]
