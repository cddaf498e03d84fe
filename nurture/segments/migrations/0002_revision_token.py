import uuid

from django.db import migrations


# The segments snapshot (segments.jobs.any_dynamic) needs a token before it can be held (core.revisions).
def first_token(apps, schema_editor):
    Revision = apps.get_model("core", "Revision")
    Revision.objects.bulk_create([Revision(name="segments", token=uuid.uuid4())], ignore_conflicts=True)


class Migration(migrations.Migration):
    dependencies = [
        ("core", "0002_revision"),
        ("segments", "0001_initial"),
    ]

    operations = [migrations.RunPython(first_token, migrations.RunPython.noop)]
