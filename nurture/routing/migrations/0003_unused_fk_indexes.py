from django.conf import settings
from django.db import migrations
from django.db.models import SET_NULL

from nurture.core.schema import unindexed_key

USER = settings.AUTH_USER_MODEL


class Migration(migrations.Migration):
    dependencies = [
        ("routing", "0002_fk_indexes_in_composites"),
        migrations.swappable_dependency(settings.AUTH_USER_MODEL),
    ]

    operations = [
        unindexed_key(
            "routing", "assignment", "actor", "routing_assignment_actor_id_9f612c2f",
            to=USER, on_delete=SET_NULL, related_name="+", blank=True, null=True,
        ),
        unindexed_key(
            "routing", "assignment", "escalated_to", "routing_assignment_escalated_to_id_f056f920",
            to=USER, on_delete=SET_NULL, related_name="+", blank=True, null=True,
        ),
        unindexed_key(
            "routing", "assignment", "policy", "routing_assignment_policy_id_22d8a614",
            to="routing.slapolicy", on_delete=SET_NULL, related_name="+", blank=True, null=True,
        ),
        unindexed_key(
            "routing", "assignment", "previous_user", "routing_assignment_previous_user_id_7b15467a",
            to=USER, on_delete=SET_NULL, related_name="+", blank=True, null=True,
        ),
        unindexed_key(
            "routing", "assignment", "rule", "routing_assignment_rule_id_0c95b0f6",
            to="routing.assignmentrule", on_delete=SET_NULL, related_name="+", blank=True, null=True,
        ),
        unindexed_key(
            "routing", "assignmentrule", "last_user", "routing_assignmentrule_last_user_id_f34e9102",
            to=USER, on_delete=SET_NULL, related_name="+", blank=True, null=True,
        ),
    ]  # fmt: skip
