from django.db import migrations, models

from nurture.core.schema import like_index_dropped


class Migration(migrations.Migration):
    dependencies = [("core", "0002_revision")]

    operations = [
        like_index_dropped(
            "job",
            "idempotency_key",
            models.CharField(blank=True, max_length=200, null=True),
            "core_job",
            "core_job_idempotency_key_key",
            "core_job_idempotency_key_de2efcc9_like",
        ),
    ]
