from django.urls import path

from doudi.policy import views

app_name = "policy"

urlpatterns = [
    path("", views.parameter_list, name="parameter_list"),
    path("import/", views.parameter_import, name="parameter_import"),
    path("simulate/", views.simulate, name="simulate"),
    path("changes/<int:change_id>/withdraw/", views.value_withdraw, name="value_withdraw"),
    path("<str:path>/", views.parameter_detail, name="parameter_detail"),
    path("<str:path>/add/", views.value_add, name="value_add"),
]
