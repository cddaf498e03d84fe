from django.conf import settings
from django.db import migrations
from django.db.models import PROTECT, SET_NULL

from nurture.core.schema import unindexed_key


class Migration(migrations.Migration):
    dependencies = [
        ("lifecycle", "0004_fk_indexes_in_composites"),
        migrations.swappable_dependency(settings.AUTH_USER_MODEL),
    ]

    operations = [
        unindexed_key(
            "lifecycle", "stagechange", "actor", "lifecycle_stagechange_actor_id_74453ca1",
            to=settings.AUTH_USER_MODEL, on_delete=SET_NULL, blank=True, null=True,
        ),
        unindexed_key(
            "lifecycle", "stagechange", "from_stage", "lifecycle_stagechange_from_stage_id_8935dff0",
            to="lifecycle.stage", on_delete=PROTECT, related_name="+", blank=True, null=True,
        ),
        unindexed_key(
            "lifecycle", "stagechange", "rule", "lifecycle_stagechange_rule_id_b841a467",
            to="lifecycle.transitionrule", on_delete=SET_NULL, related_name="+", blank=True, null=True,
        ),
    ]  # fmt: skip
