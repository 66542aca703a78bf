"""The counties' public contact details, and the indexes the portal's set-based lists need on the cases tables
(created here with IF NOT EXISTS so that the cases app's migrations stay its own; docs/portal.md, "Indexes")."""

import django.db.models.deletion
from django.conf import settings
from django.db import migrations, models


class Migration(migrations.Migration):

    initial = True

    dependencies = [
        ('core', '0004_api_tokens'),
        ('cases', '0002_default_workflows'),
        migrations.swappable_dependency(settings.AUTH_USER_MODEL),
    ]

    operations = [
        migrations.CreateModel(
            name='CountyContact',
            fields=[
                ('region', models.OneToOneField(on_delete=django.db.models.deletion.PROTECT, primary_key=True, related_name='+', serialize=False, to='core.region', verbose_name='县级区划')),
                ('office', models.CharField(max_length=100, verbose_name='办理机构')),
                ('address', models.CharField(max_length=200, verbose_name='办公地址')),
                ('phone', models.CharField(max_length=40, verbose_name='咨询电话')),
                ('hotline', models.CharField(max_length=40, verbose_name='投诉举报电话')),
                ('hours', models.CharField(blank=True, max_length=100, verbose_name='办公时间')),
                ('version', models.PositiveIntegerField(default=1)),
                ('updated_at', models.DateTimeField(auto_now=True)),
                ('updated_by', models.ForeignKey(null=True, on_delete=django.db.models.deletion.PROTECT, related_name='+', to=settings.AUTH_USER_MODEL)),
            ],
            options={
                'verbose_name': '县级公开联系方式',
            },
        ),
        migrations.RunSQL(
            sql=[
                # New approvals of a month in a county or township: month first, then the region path prefix.
                "CREATE INDEX IF NOT EXISTS portal_recipient_start_path ON cases_recipient (start_month, region_path)",
                # Terminations of a month (end_month = the month before), terminated rows only.
                "CREATE INDEX IF NOT EXISTS portal_recipient_end_path ON cases_recipient (end_month, region_path) "
                "WHERE status = 'terminated'",
                # Publicities running today: the few whose end date is today or later.
                "CREATE INDEX IF NOT EXISTS portal_publicity_end ON cases_publicity (end_date)",
                # The village pages' cache fingerprint: the latest audit ids of a region (and of rows without one).
                "CREATE INDEX IF NOT EXISTS portal_auditlog_region_id ON core_auditlog (region_id, id)",
            ],
            reverse_sql=[
                "DROP INDEX IF EXISTS portal_recipient_start_path",
                "DROP INDEX IF EXISTS portal_recipient_end_path",
                "DROP INDEX IF EXISTS portal_publicity_end",
                "DROP INDEX IF EXISTS portal_auditlog_region_id",
            ],
        ),
    ]
