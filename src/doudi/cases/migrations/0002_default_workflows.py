"""Install the shipped workflow definitions (2012 and 2021 rule sets) as data operators can edit."""

from django.db import migrations


def install(apps, schema_editor):
    from doudi.cases.defaults import install_default_workflows

    install_default_workflows(apps.get_model("cases", "WorkflowDefinition"), apps.get_model("cases", "WorkflowStep"))


class Migration(migrations.Migration):
    dependencies = [("cases", "0001_applications_workflows_recipients")]

    operations = [migrations.RunPython(install, migrations.RunPython.noop)]
