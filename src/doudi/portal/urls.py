"""The public disclosure portal under /public/ (no login) and its staff page (docs/portal.md)."""

from django.urls import path, re_path

from doudi.portal import views

app_name = "portal"
CODE = r"(?P<code>[0-9]{12})"
urlpatterns = [
    path("", views.home, name="home"),
    re_path(rf"^{CODE}/$", views.region, name="region"),
    re_path(rf"^{CODE}/changes/$", views.changes, name="changes"),
    re_path(rf"^{CODE}/publicity/$", views.publicity, name="publicity"),
    re_path(rf"^{CODE}/guide/$", views.guide_index, name="guide"),
    re_path(rf"^{CODE}/guide/(?P<program>[a-z_]+)/$", views.guide_program, name="guide_program"),
    # Staff only (login required): the counties' public contact details.
    path("staff/contacts/", views.contact_manage, name="contact_manage"),
]
