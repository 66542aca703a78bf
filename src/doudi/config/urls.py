from django.urls import include, path

from doudi.config.api import api

urlpatterns = [
    path("i18n/", include("django.conf.urls.i18n")),
    path("api/", api.urls),
    path("policy/", include("doudi.policy.urls")),
    path("cases/", include("doudi.cases.urls")),
    path("payments/", include("doudi.payments.urls")),
    path("integrity/", include("doudi.integrity.urls")),
    path("verification/", include("doudi.verification.urls")),
    path("complaints/", include("doudi.complaints.urls")),
    path("public/complaints/", include("doudi.complaints.public_urls")),
    path("public/", include("doudi.portal.urls")),
    path("", include("doudi.web.urls")),
]
