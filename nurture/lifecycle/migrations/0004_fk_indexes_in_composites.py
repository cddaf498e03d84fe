import django.db.models.deletion
from django.db import migrations, models

from nurture.core.schema import index_dropped


class Migration(migrations.Migration):
    dependencies = [
        ("contacts", "0007_fk_indexes_in_composites"),
        ("lifecycle", "0003_alter_stagechange_cause"),
    ]

    operations = [
        index_dropped(
            migrations.AlterField(
                model_name="stagechange",
                name="contact",
                field=models.ForeignKey(
                    db_index=False,
                    on_delete=django.db.models.deletion.CASCADE,
                    related_name="stage_changes",
                    to="contacts.contact",
                ),
            ),
            "lifecycle_stagechange_contact_id_3c7438c5",
            "lifecycle_stagechange",
            "contact_id",
        ),
    ]
