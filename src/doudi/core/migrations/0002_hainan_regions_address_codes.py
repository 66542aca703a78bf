"""Load Hainan's real province, city and county units (rules-cn §9.2) and the ID address codes."""

import csv
import datetime as dt
from pathlib import Path

from django.db import migrations

DATA = Path(__file__).resolve().parent.parent / "data"


def load(apps, schema_editor):
    Region = apps.get_model("core", "Region")
    AddressCode = apps.get_model("core", "AddressCode")
    paths = {}
    with (DATA / "hainan_regions.csv").open(encoding="utf-8") as fh:
        for row in csv.DictReader(fh):
            parent = row["parent_code"] or None
            path = f"{paths[parent] if parent else '/'}{row['code']}/"
            paths[row["code"]] = path
            Region.objects.update_or_create(
                code=row["code"],
                defaults={
                    "name": row["name"], "level": row["level"], "parent_id": parent, "path": path,
                    "separate_unit": row["separate_unit"] == "1", "poverty_county": row["poverty_county"] == "1",
                    "poverty_exit_date": dt.date.fromisoformat(row["poverty_exit_date"])
                    if row["poverty_exit_date"] else None,
                },
            )
    with (DATA / "address_codes.csv").open(encoding="utf-8") as fh:
        for row in csv.DictReader(fh):
            AddressCode.objects.update_or_create(
                code=row["code"], defaults={"name": row["name"], "obsolete": row["obsolete"] == "1",
                                            "note": row["note"]})


class Migration(migrations.Migration):
    dependencies = [("core", "0001_regions_users_audit")]
    operations = [migrations.RunPython(load, migrations.RunPython.noop)]
