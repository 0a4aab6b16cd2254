# Trial sessions and package discounts (issue 22). Written by hand so that it carries only
# these fields while other work on the app's models is in progress.

from django.db import migrations, models


class Migration(migrations.Migration):
    dependencies = [
        ("coaching", "0005_time_off_local"),
    ]

    operations = [
        migrations.AddField(
            model_name="coachprofile",
            name="trial_offered",
            field=models.BooleanField(default=False),
        ),
        migrations.AddField(
            model_name="coachprofile",
            name="trial_price",
            field=models.PositiveIntegerField(default=0, help_text="Minor units; 0 is free."),
        ),
        migrations.AddField(
            model_name="coachprofile",
            name="package_discounts",
            field=models.JSONField(blank=True, default=dict),
        ),
        migrations.AddConstraint(
            model_name="coachprofile",
            constraint=models.CheckConstraint(
                condition=models.Q(("trial_price__lte", 10000000)),
                name="coach_trial_price_bounded",
            ),
        ),
    ]
