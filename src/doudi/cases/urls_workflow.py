"""Case URLs: the workflow — tasks, overdue lists, kinship register, discovery, intake, the case page and every
action on a case (see cases/urls.py and cases/views.py)."""

from django.urls import URLPattern, path

from doudi.cases import views

urlpatterns: list[URLPattern] = [
    path("", views.task_list, name="task_list"),
    path("overdue/", views.overdue, name="overdue"),
    path("kin/", views.kin_register, name="kin_register"),
    path("discovery/", views.discovery, name="discovery"),
    path("new/", views.application_new, name="application_new"),
    path("act-first/", views.act_first, name="act_first"),
    path("<int:application_id>/", views.application_detail, name="application_detail"),
    path("<int:application_id>/steps/<str:code>/complete/", views.step_complete, name="step_complete"),
    path("<int:application_id>/steps/<str:code>/skip/", views.step_skip, name="step_skip"),
    path("<int:application_id>/refuse/", views.application_refuse, name="application_refuse"),
    path("<int:application_id>/documents/", views.documents_update, name="documents_update"),
    path("<int:application_id>/visits/", views.home_visit_add, name="home_visit_add"),
    path("<int:application_id>/publicity/", views.publicity_start, name="publicity_start"),
    path("<int:application_id>/objections/", views.objection_add, name="objection_add"),
    path(
        "<int:application_id>/objections/<int:objection_id>/resolve/",
        views.objection_resolve,
        name="objection_resolve",
    ),
]
