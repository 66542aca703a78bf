"""Case URLs: documents (see cases/urls.py)."""

from django.urls import URLPattern, path

from doudi.cases import views_documents as views

urlpatterns: list[URLPattern] = [
    path("<int:application_id>/notice.pdf", views.notice_pdf, name="notice_pdf"),
    path("recipients/<int:recipient_id>/certificate.pdf", views.certificate_pdf, name="certificate_pdf"),
    path("publicity/<int:publicity_id>.pdf", views.publicity_pdf, name="publicity_pdf"),
    path("form/", views.application_form, name="application_form"),
]
