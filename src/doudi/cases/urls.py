"""Case pages under /cases/: the workflow (intake, case page, step actions), follow-up lists (publicity, spot
checks, recipients, rechecks, change reports) and printable documents. Each group has its own URL module."""

from doudi.cases.urls_documents import urlpatterns as documents
from doudi.cases.urls_followup import urlpatterns as followup
from doudi.cases.urls_workflow import urlpatterns as workflow

app_name = "cases"
urlpatterns = [*workflow, *followup, *documents]
