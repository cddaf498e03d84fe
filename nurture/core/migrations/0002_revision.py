import uuid

from django.db import migrations, models

# The snapshots processes hold (core.revisions): each needs a token before anything can be held.
NAMES = ("identity", "journeys", "lifecycle", "notifications", "routing", "scoring")


def first_tokens(apps, schema_editor):
    Revision = apps.get_model("core", "Revision")
    Revision.objects.bulk_create([Revision(name=name, token=uuid.uuid4()) for name in NAMES], ignore_conflicts=True)


class Migration(migrations.Migration):
    dependencies = [
        ("core", "0001_initial"),
    ]

    operations = [
        migrations.CreateModel(
            name="Revision",
            fields=[
                ("name", models.CharField(max_length=40, primary_key=True, serialize=False)),
                ("token", models.UUIDField()),
            ],
        ),
        migrations.RunPython(first_tokens, migrations.RunPython.noop),
    ]
