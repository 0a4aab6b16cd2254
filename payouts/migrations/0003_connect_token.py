import secrets

from django.db import migrations, models

import payouts.models


def give_each_row_its_own(apps, schema_editor):
    # AddField computes a callable default once for the rows that exist: each gets its own.
    PayoutAccount = apps.get_model("payouts", "PayoutAccount")
    for account in PayoutAccount.objects.only("pk"):
        PayoutAccount.objects.filter(pk=account.pk).update(connect_token=secrets.token_hex(8))


class Migration(migrations.Migration):
    dependencies = [
        ("payouts", "0002_attempt_tokens"),
    ]

    operations = [
        migrations.AddField(
            model_name="payoutaccount",
            name="connect_token",
            field=models.CharField(
                default=payouts.models.transfer_token, editable=False, max_length=32
            ),
        ),
        migrations.RunPython(give_each_row_its_own, migrations.RunPython.noop),
    ]
