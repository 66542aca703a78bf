from django.urls import include, path

from doudi.config.api import api

urlpatterns = [
    path("i18n/", include("django.conf.urls.i18n")),
    path("api/", api.urls),
    path("policy/", include("doudi.policy.urls")),
    path("cases/", include("doudi.cases.urls")),
    path("payments/", include("doudi.payments.urls")),
    path("integrity/", include("doudi.integrity.urls")),
    path("", include("doudi.web.urls")),
]
