"""Case URLs: follow-up (see cases/urls.py) — publicity, spot checks, recipients, rechecks, changes, deaths,
holidays. Views in cases/views_followup.py."""

from django.urls import URLPattern, path

from doudi.cases import views_followup as views

urlpatterns: list[URLPattern] = [
    path("publicity/", views.publicity_list, name="publicity_list"),
    path("spot-checks/", views.spot_check_list, name="spot_check_list"),
    path("recipients/", views.recipient_list, name="recipient_list"),
    path("recipients/<int:recipient_id>/", views.recipient_detail, name="recipient_detail"),
    path("recipients/<int:recipient_id>/status/", views.recipient_status, name="recipient_status"),
    path("rechecks/", views.recheck_list, name="recheck_list"),
    path("rechecks/<int:recheck_id>/open/", views.recheck_open, name="recheck_open"),
    path("changes/new/", views.change_report_new, name="change_report_new"),
    path("deaths/<int:person_id>/", views.death_record, name="death_record"),
    path("holidays/", views.holiday_list, name="holiday_list"),
]
