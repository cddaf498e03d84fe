from django.conf import settings
from django.db import migrations
from django.db.models import CASCADE, SET_NULL

from nurture.core.schema import unindexed_key


class Migration(migrations.Migration):
    dependencies = [
        ("contacts", "0007_fk_indexes_in_composites"),
        ("routing", "0001_initial"),
        migrations.swappable_dependency(settings.AUTH_USER_MODEL),
    ]

    operations = [
        unindexed_key(
            "routing", "assignment", "contact", "routing_assignment_contact_id_f23d23e6",
            to="contacts.contact", on_delete=CASCADE, related_name="assignments",
        ),
        unindexed_key(
            "routing", "assignment", "user", "routing_assignment_user_id_cabdc808",
            to=settings.AUTH_USER_MODEL, on_delete=SET_NULL, related_name="assignments", blank=True, null=True,
        ),
    ]  # fmt: skip
