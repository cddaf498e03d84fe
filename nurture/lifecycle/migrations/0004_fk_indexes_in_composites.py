from django.db import migrations
from django.db.models import CASCADE

from nurture.core.schema import unindexed_key


class Migration(migrations.Migration):
    dependencies = [
        ("contacts", "0007_fk_indexes_in_composites"),
        ("lifecycle", "0003_alter_stagechange_cause"),
    ]

    operations = [
        unindexed_key(
            "lifecycle", "stagechange", "contact", "lifecycle_stagechange_contact_id_3c7438c5",
            to="contacts.contact", on_delete=CASCADE, related_name="stage_changes",
        ),
    ]  # fmt: skip
