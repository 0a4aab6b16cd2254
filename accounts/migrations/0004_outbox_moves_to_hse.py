from django.db import migrations


class Migration(migrations.Migration):
    """The outbox's models now belong to hse (hse.0001_outbox); the tables stay."""

    dependencies = [
        ("accounts", "0003_queued_notice"),
        ("hse", "0001_outbox"),
    ]

    operations = [
        migrations.SeparateDatabaseAndState(
            state_operations=[
                migrations.DeleteModel(name="QueuedEmail"),
                migrations.DeleteModel(name="QueuedNotice"),
            ],
        ),
    ]
