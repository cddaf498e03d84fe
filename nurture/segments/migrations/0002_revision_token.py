from django.db import migrations

from nurture.core.revisions import first_token


class Migration(migrations.Migration):
    dependencies = [
        ("core", "0002_revision"),
        ("segments", "0001_initial"),
    ]

    # The segments snapshot (segments.jobs.any_dynamic) needs a token before it can be held.
    operations = [first_token("segments")]
