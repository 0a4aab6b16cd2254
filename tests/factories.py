import factory
from allauth.account.models import EmailAddress

from accounts.models import User
from coaching.models import AvailabilityWindow, CoachProfile, Skill

PASSWORD = "correct-horse-battery-staple"


class UserFactory(factory.django.DjangoModelFactory):
    class Meta:
        model = User
        skip_postgeneration_save = True

    email = factory.Sequence(lambda n: f"person{n}@example.com")
    display_name = factory.Sequence(lambda n: f"Person {n}")
    role = User.Role.CLIENT
    time_zone = "UTC"
    password = factory.PostGenerationMethodCall("set_password", PASSWORD)

    @factory.post_generation
    def verified(obj, create, extracted, **kwargs):
        if create:
            obj.save()
            EmailAddress.objects.create(user=obj, email=obj.email, verified=True, primary=True)


class SkillFactory(factory.django.DjangoModelFactory):
    class Meta:
        model = Skill
        django_get_or_create = ("slug",)

    name = factory.Sequence(lambda n: f"Skill {n}")
    slug = factory.Sequence(lambda n: f"skill-{n}")


class CoachFactory(factory.django.DjangoModelFactory):
    """A listed coach profile; by default available Monday to Friday, 09:00–12:00 local."""

    class Meta:
        model = CoachProfile
        skip_postgeneration_save = True

    user = factory.SubFactory(UserFactory, role=User.Role.COACH)
    headline = factory.Sequence(lambda n: f"Coach headline {n}")
    bio = "I help people grow."
    languages = ["en"]
    hourly_price = 10000
    currency = "USD"
    minimum_notice_minutes = 0
    time_zone = "UTC"
    is_listed = True

    @factory.post_generation
    def skills(obj, create, extracted, **kwargs):
        if create and extracted:
            obj.skills.set(extracted)

    @factory.post_generation
    def windows(obj, create, extracted, **kwargs):
        if not create:
            return
        spans = extracted if extracted is not None else [(d, 9 * 60, 12 * 60) for d in range(5)]
        AvailabilityWindow.objects.bulk_create(
            AvailabilityWindow(coach=obj, weekday=d, start_minute=s, end_minute=e)
            for d, s, e in spans
        )
