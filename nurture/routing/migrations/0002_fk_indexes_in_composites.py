import django.db.models.deletion
from django.conf import settings
from django.db import migrations, models

from nurture.core.schema import index_dropped


class Migration(migrations.Migration):
    dependencies = [
        ("contacts", "0007_fk_indexes_in_composites"),
        ("routing", "0001_initial"),
        migrations.swappable_dependency(settings.AUTH_USER_MODEL),
    ]

    operations = [
        index_dropped(
            migrations.AlterField(
                model_name="assignment",
                name="contact",
                field=models.ForeignKey(
                    db_index=False,
                    on_delete=django.db.models.deletion.CASCADE,
                    related_name="assignments",
                    to="contacts.contact",
                ),
            ),
            "routing_assignment_contact_id_f23d23e6",
            "routing_assignment",
            "contact_id",
        ),
        index_dropped(
            migrations.AlterField(
                model_name="assignment",
                name="user",
                field=models.ForeignKey(
                    blank=True,
                    db_index=False,
                    null=True,
                    on_delete=django.db.models.deletion.SET_NULL,
                    related_name="assignments",
                    to=settings.AUTH_USER_MODEL,
                ),
            ),
            "routing_assignment_user_id_cabdc808",
            "routing_assignment",
            "user_id",
        ),
    ]
