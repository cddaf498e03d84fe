from django.conf import settings
from django.db import migrations
from django.db.models import CASCADE, PROTECT, SET_NULL

from nurture.core.schema import unindexed_key


class Migration(migrations.Migration):
    dependencies = [
        ("contacts", "0006_live_owner_and_merged_indexes"),
        ("lifecycle", "0003_alter_stagechange_cause"),
        migrations.swappable_dependency(settings.AUTH_USER_MODEL),
    ]

    operations = [
        unindexed_key(
            "contacts", "consent", "contact", "contacts_consent_contact_id_e3883c86",
            to="contacts.contact", on_delete=CASCADE, related_name="consents",
        ),
        unindexed_key(
            "contacts", "contact", "owner", "contacts_contact_owner_id_0103c1ee",
            to=settings.AUTH_USER_MODEL, on_delete=SET_NULL, related_name="contacts", verbose_name="owner",
            blank=True, null=True,
        ),
        unindexed_key(
            "contacts", "contact", "stage", "contacts_contact_stage_id_f675174e",
            to="lifecycle.stage", on_delete=PROTECT, related_name="contacts", verbose_name="stage",
        ),
        unindexed_key(
            "contacts", "event", "contact", "contacts_event_contact_id_6a5dd8b9",
            to="contacts.contact", on_delete=CASCADE, related_name="events",
        ),
    ]  # fmt: skip
