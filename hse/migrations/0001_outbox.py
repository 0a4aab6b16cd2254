import django.db.models.deletion
from django.conf import settings
from django.db import migrations, models


class Migration(migrations.Migration):
    """The outbox tables were made by the accounts app; they move to hse, which every app
    uses, without touching the database."""

    dependencies = [
        ("accounts", "0003_queued_notice"),
        migrations.swappable_dependency(settings.AUTH_USER_MODEL),
    ]

    operations = [
        migrations.SeparateDatabaseAndState(
            state_operations=[
                migrations.CreateModel(
                    name="QueuedEmail",
                    fields=[
                        ("id", models.BigAutoField(auto_created=True, primary_key=True, serialize=False, verbose_name="ID")),
                        ("template", models.CharField(max_length=60)),
                        ("subject", models.CharField(max_length=200)),
                        ("payload", models.JSONField(help_text="The context (rows as references) and attachments.")),
                        ("created_at", models.DateTimeField(auto_now_add=True)),
                        ("sent_at", models.DateTimeField(blank=True, null=True)),
                        ("attempts", models.PositiveSmallIntegerField(default=0)),
                        ("to", models.ForeignKey(on_delete=django.db.models.deletion.CASCADE, related_name="+", to=settings.AUTH_USER_MODEL)),
                    ],
                    options={
                        "db_table": "accounts_queuedemail",
                        "indexes": [models.Index(condition=models.Q(("sent_at__isnull", True)), fields=["id"], name="queued_email_unsent")],
                    },
                ),
                migrations.CreateModel(
                    name="QueuedNotice",
                    fields=[
                        ("id", models.BigAutoField(auto_created=True, primary_key=True, serialize=False, verbose_name="ID")),
                        ("notifier", models.CharField(max_length=120)),
                        ("ids", models.JSONField()),
                        ("options", models.JSONField(blank=True, default=dict)),
                        ("created_at", models.DateTimeField(auto_now_add=True)),
                        ("expanded_at", models.DateTimeField(blank=True, null=True)),
                        ("attempts", models.PositiveSmallIntegerField(default=0)),
                    ],
                    options={
                        "db_table": "accounts_queuednotice",
                        "indexes": [models.Index(condition=models.Q(("expanded_at__isnull", True)), fields=["id"], name="queued_notice_waiting")],
                    },
                ),
            ],
        ),
    ]
