from django.db import migrations, models

from coaching.search import document
from hse.migration_ops import VendorSQL

LANGUAGE_NAMES = {
    "en": "English", "es": "Spanish", "fr": "French", "de": "German", "it": "Italian",
    "pt": "Portuguese", "nl": "Dutch", "pl": "Polish", "uk": "Ukrainian", "tr": "Turkish",
    "ar": "Arabic", "hi": "Hindi", "zh": "Chinese", "ja": "Japanese", "ko": "Korean",
}  # fmt: skip


def documents_and_listing(apps, schema_editor):
    """Every coach's search document, and listed only with weekly hours to sell."""
    CoachProfile = apps.get_model("coaching", "CoachProfile")
    for coach in CoachProfile.objects.select_related("user").prefetch_related("skills"):
        coach.search_document = document(
            coach.user.display_name, coach.headline, coach.bio,
            *(skill.name for skill in coach.skills.all()),
            *(LANGUAGE_NAMES.get(code, code) for code in coach.languages),
        )  # fmt: skip
        coach.is_listed = coach.is_listed and coach.availability_windows.exists()
        coach.save(update_fields=["search_document", "is_listed"])


class Migration(migrations.Migration):
    dependencies = [
        ("coaching", "0002_input_bounds"),
    ]

    operations = [
        migrations.AddField(
            model_name="coachprofile",
            name="search_document",
            field=models.TextField(blank=True, editable=False),
        ),
        migrations.RunPython(documents_and_listing, migrations.RunPython.noop),
        VendorSQL(
            "postgresql",
            "CREATE INDEX coach_search_document ON coaching_coachprofile "
            "USING gin (to_tsvector('simple', search_document))",
            "DROP INDEX coach_search_document",
        ),
    ]
