import django.db.models.deletion
from django.conf import settings
from django.db import migrations, models

from nurture.core.schema import index_dropped


class Migration(migrations.Migration):
    dependencies = [
        ("contacts", "0006_live_owner_and_merged_indexes"),
        ("lifecycle", "0003_alter_stagechange_cause"),
        migrations.swappable_dependency(settings.AUTH_USER_MODEL),
    ]

    operations = [
        index_dropped(
            migrations.AlterField(
                model_name="consent",
                name="contact",
                field=models.ForeignKey(
                    db_index=False,
                    on_delete=django.db.models.deletion.CASCADE,
                    related_name="consents",
                    to="contacts.contact",
                ),
            ),
            "contacts_consent_contact_id_e3883c86",
            "contacts_consent",
            "contact_id",
        ),
        index_dropped(
            migrations.AlterField(
                model_name="contact",
                name="owner",
                field=models.ForeignKey(
                    blank=True,
                    db_index=False,
                    null=True,
                    on_delete=django.db.models.deletion.SET_NULL,
                    related_name="contacts",
                    to=settings.AUTH_USER_MODEL,
                    verbose_name="owner",
                ),
            ),
            "contacts_contact_owner_id_0103c1ee",
            "contacts_contact",
            "owner_id",
        ),
        index_dropped(
            migrations.AlterField(
                model_name="contact",
                name="stage",
                field=models.ForeignKey(
                    db_index=False,
                    on_delete=django.db.models.deletion.PROTECT,
                    related_name="contacts",
                    to="lifecycle.stage",
                    verbose_name="stage",
                ),
            ),
            "contacts_contact_stage_id_f675174e",
            "contacts_contact",
            "stage_id",
        ),
        index_dropped(
            migrations.AlterField(
                model_name="event",
                name="contact",
                field=models.ForeignKey(
                    db_index=False,
                    on_delete=django.db.models.deletion.CASCADE,
                    related_name="events",
                    to="contacts.contact",
                ),
            ),
            "contacts_event_contact_id_6a5dd8b9",
            "contacts_event",
            "contact_id",
        ),
    ]
