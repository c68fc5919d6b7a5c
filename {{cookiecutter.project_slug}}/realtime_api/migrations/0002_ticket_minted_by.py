from django.db import migrations, models


class Migration(migrations.Migration):
    dependencies = [
        ("realtime_api", "0001_initial"),
    ]

    operations = [
        migrations.AddField(
            model_name="ticket",
            name="minted_by",
            field=models.CharField(blank=True, default="", max_length=16),
        ),
        migrations.AddField(
            model_name="ticket",
            name="minted_key",
            field=models.TextField(blank=True, default=""),
        ),
    ]
