import django.db.models.deletion
from django.conf import settings
from django.db import migrations, models

from nurture.core.schema import index_dropped


def unindexed(model: str, name: str, to: str, index: str) -> migrations.SeparateDatabaseAndState:
    """A nullable SET_NULL key with no reverse accessor, its index dropped."""
    field = models.ForeignKey(
        blank=True,
        db_index=False,
        null=True,
        on_delete=django.db.models.deletion.SET_NULL,
        related_name="+",
        to=to,
    )
    return index_dropped(
        migrations.AlterField(model_name=model, name=name, field=field), index, f"routing_{model}", f"{name}_id"
    )


class Migration(migrations.Migration):
    dependencies = [
        ("routing", "0002_fk_indexes_in_composites"),
        migrations.swappable_dependency(settings.AUTH_USER_MODEL),
    ]

    operations = [
        unindexed("assignment", "actor", settings.AUTH_USER_MODEL, "routing_assignment_actor_id_9f612c2f"),
        unindexed(
            "assignment", "escalated_to", settings.AUTH_USER_MODEL, "routing_assignment_escalated_to_id_f056f920"
        ),
        unindexed("assignment", "policy", "routing.slapolicy", "routing_assignment_policy_id_22d8a614"),
        unindexed(
            "assignment", "previous_user", settings.AUTH_USER_MODEL, "routing_assignment_previous_user_id_7b15467a"
        ),
        unindexed("assignment", "rule", "routing.assignmentrule", "routing_assignment_rule_id_0c95b0f6"),
        unindexed(
            "assignmentrule", "last_user", settings.AUTH_USER_MODEL, "routing_assignmentrule_last_user_id_f34e9102"
        ),
    ]
