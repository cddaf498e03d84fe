from django.db import migrations
from django.db.models import CASCADE, SET_NULL

from nurture.core.schema import unindexed_key


class Migration(migrations.Migration):
    dependencies = [
        ("contacts", "0007_fk_indexes_in_composites"),
        ("scoring", "0003_model_revision_token"),
    ]

    operations = [
        unindexed_key(
            "scoring", "scoreentry", "contact", "scoring_scoreentry_contact_id_c5bb8aae",
            to="contacts.contact", on_delete=CASCADE, related_name="score_entries",
        ),
        unindexed_key(
            "scoring", "scoreentry", "rule", "scoring_scoreentry_rule_id_2876801c",
            to="scoring.pointsrule", on_delete=SET_NULL, related_name="entries", null=True,
        ),
    ]  # fmt: skip
