from django.conf import settings
from django.db import migrations
from django.db.models import SET_NULL

from nurture.core.schema import unindexed_key


class Migration(migrations.Migration):
    dependencies = [
        ("contacts", "0007_fk_indexes_in_composites"),
        migrations.swappable_dependency(settings.AUTH_USER_MODEL),
    ]

    operations = [
        unindexed_key(
            "contacts", "event", "actor", "contacts_event_actor_id_87724b56",
            to=settings.AUTH_USER_MODEL, on_delete=SET_NULL, blank=True, null=True,
        ),
    ]
