from django.db import migrations, models

from nurture.core.schema import like_index_dropped


class Migration(migrations.Migration):
    dependencies = [("notifications", "0002_alter_notification_kind")]

    operations = [
        like_index_dropped(
            "notification",
            "key",
            models.CharField(blank=True, max_length=200, null=True),
            "notifications_notification",
            "notifications_notification_key_key",
            "notifications_notification_key_21d62a12_like",
        ),
    ]
