from django.urls import path, register_converter

from doudi.web import views


class _Choice:
    regex = ""

    def to_python(self, value: str) -> str:
        return value

    def to_url(self, value: str) -> str:
        return value


class ItemGroup(_Choice):
    regex = "income|asset|expense"


class ImportKind(_Choice):
    regex = "households|regions"


class FileFormat(_Choice):
    regex = "csv|xlsx"


register_converter(ItemGroup, "item_group")
register_converter(ImportKind, "import_kind")
register_converter(FileFormat, "file_format")

app_name = "web"
urlpatterns = [
    path("", views.home, name="home"),
    path("login/", views.login_view, name="login"),
    path("logout/", views.logout_view, name="logout"),
    path("households/", views.household_list, name="household_list"),
    path("households/new/", views.household_new, name="household_new"),
    path("households/<int:household_id>/", views.household_detail, name="household_detail"),
    path("households/<int:household_id>/edit/", views.household_edit, name="household_edit"),
    path("households/<int:household_id>/members/new/", views.member_add, name="member_add"),
    path(
        "households/<int:household_id>/members/<int:membership_id>/end/",
        views.membership_end,
        name="membership_end",
    ),
    path("households/<int:household_id>/<item_group:kind_group>/new/", views.item_add, name="item_add"),
    path(
        "households/<int:household_id>/<item_group:kind_group>/<int:item_id>/end/",
        views.item_end,
        name="item_end",
    ),
    path("persons/<int:person_id>/edit/", views.person_edit, name="person_edit"),
    path("persons/<int:person_id>/move/", views.person_move, name="person_move"),
    path("import/", views.import_view, name="import"),
    path("import/errors.csv", views.import_errors, name="import_errors"),
    path("import/template/<import_kind:kind>.<file_format:fmt>", views.import_template, name="import_template"),
    path("export/", views.export_view, name="export"),
]
