import django.db.models.deletion
from django.db import migrations, models

from nurture.core.schema import index_dropped


class Migration(migrations.Migration):
    dependencies = [
        ("contacts", "0007_fk_indexes_in_composites"),
        ("scoring", "0003_model_revision_token"),
    ]

    operations = [
        index_dropped(
            migrations.AlterField(
                model_name="scoreentry",
                name="contact",
                field=models.ForeignKey(
                    db_index=False,
                    on_delete=django.db.models.deletion.CASCADE,
                    related_name="score_entries",
                    to="contacts.contact",
                ),
            ),
            "scoring_scoreentry_contact_id_c5bb8aae",
            "scoring_scoreentry",
            "contact_id",
        ),
        index_dropped(
            migrations.AlterField(
                model_name="scoreentry",
                name="rule",
                field=models.ForeignKey(
                    db_index=False,
                    null=True,
                    on_delete=django.db.models.deletion.SET_NULL,
                    related_name="entries",
                    to="scoring.pointsrule",
                ),
            ),
            "scoring_scoreentry_rule_id_2876801c",
            "scoring_scoreentry",
            "rule_id",
        ),
    ]
