from django.urls import path

from doudi.web import views

app_name = "web"
urlpatterns = [
    path("", views.home, name="home"),
    path("login/", views.login_view, name="login"),
    path("logout/", views.logout_view, name="logout"),
    path("households/", views.household_list, name="household_list"),
    path("import/", views.import_view, name="import"),
]
