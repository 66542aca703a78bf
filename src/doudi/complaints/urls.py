"""Complaint handling pages for staff under /complaints/."""

from django.urls import path

from doudi.complaints import views

app_name = "complaints"
urlpatterns = [
    path("", views.complaint_list, name="list"),
    path("new/", views.complaint_new, name="new"),
    path("statistics/", views.statistics, name="statistics"),
    path("<int:complaint_id>/", views.complaint_detail, name="detail"),
    path("<int:complaint_id>/accept/", views.complaint_accept, name="accept"),
    path("<int:complaint_id>/not-accept/", views.complaint_not_accept, name="not_accept"),
    path("<int:complaint_id>/entries/", views.entry_add, name="entry_add"),
    path("<int:complaint_id>/link/", views.complaint_link, name="link"),
    path("<int:complaint_id>/reroute/", views.complaint_reroute, name="reroute"),
    path("<int:complaint_id>/answer/", views.complaint_answer, name="answer"),
    path("<int:complaint_id>/close/", views.complaint_close, name="close"),
    path("<int:complaint_id>/reply.pdf", views.reply_pdf, name="reply_pdf"),
    path("<int:complaint_id>/attachments/<int:attachment_id>/", views.attachment_download, name="attachment"),
]
