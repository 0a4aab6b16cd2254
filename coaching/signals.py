"""Cache upkeep, no business rules: the catalog's results and each coach page's profile
column are kept rendered, and schedules are kept read (coaching.selectors); these receivers
give them a new version whenever what they show of coaching changes, whether a service or
the admin made the change. The apps above do the same for their rows (sessions' reviews
and busy times, requests' busy times) in their own signals modules."""

from django.db.models.signals import m2m_changed, post_delete, post_save, pre_delete
from django.dispatch import receiver

from accounts.models import User
from coaching.models import AvailabilityWindow, BusyCalendar, CoachProfile, Skill, TimeOff
from coaching.selectors import (
    forget_catalog,
    forget_coach_pages,
    forget_coach_profiles,
    forget_schedules,
)

# What saving a user may change without changing what the public sees of them (a login
# writes last_login).
UNSEEN_USER_FIELDS = frozenset({"last_login", "password"})


def _search_refresh(*coach_ids: int) -> None:
    """Writes each coach's search document anew (an UPDATE: it sends no post_save)."""
    coaches = CoachProfile.objects.filter(pk__in=coach_ids).select_related("user")
    for coach in coaches.prefetch_related("skills"):
        CoachProfile.objects.filter(pk=coach.pk).update(search_document=coach.search_text())


@receiver([post_save, post_delete], sender=CoachProfile)
def coach_profile_changed(sender, instance, **kwargs):
    forget_coach_pages(instance.pk)
    # Kept schedules hold time off as instants of the profile's zone, which may have changed.
    forget_schedules(coach_ids=[instance.pk])
    if kwargs.get("signal") is post_save:
        _search_refresh(instance.pk)


@receiver(m2m_changed, sender=CoachProfile.skills.through)
def coach_skills_changed(sender, instance, action, reverse, pk_set, **kwargs):
    if not action.startswith("post_"):
        return
    if not reverse:
        coaches = [instance.pk]
    elif pk_set:  # coaches added to or removed from a skill
        coaches = list(pk_set)
    else:  # a skill's coaches cleared: which they were is gone, so every page
        coaches = list(CoachProfile.objects.values_list("pk", flat=True))
    forget_coach_pages(*coaches)
    _search_refresh(*coaches)


@receiver(post_save, sender=User)
def user_changed(sender, instance, update_fields=None, **kwargs):
    if update_fields and set(update_fields) <= UNSEEN_USER_FIELDS:
        return
    coaches = CoachProfile.objects.filter(user=instance).values_list("pk", flat=True)
    forget_coach_pages(*coaches)
    _search_refresh(*coaches)


@receiver(post_save, sender=Skill)
def skill_saved(sender, instance, **kwargs):
    _forget_skill(instance)


@receiver(pre_delete, sender=Skill)
def skill_deleted(sender, instance, **kwargs):
    _forget_skill(instance)  # before the delete: by post_delete its links to coaches are gone


def _forget_skill(skill: Skill) -> None:
    """The catalog (its chip, a filter by it) and the pages of the coaches who teach it."""
    forget_catalog()
    coaches = CoachProfile.objects.filter(skills=skill).values_list("pk", flat=True)
    forget_coach_profiles(*coaches)
    _search_refresh(*coaches)


@receiver([post_save, post_delete], sender=TimeOff)
@receiver([post_save, post_delete], sender=AvailabilityWindow)
def availability_changed(sender, instance, **kwargs):
    forget_schedules(coach_ids=[instance.coach_id])


@receiver(post_delete, sender=BusyCalendar)
def busy_calendar_deleted(sender, instance, **kwargs):
    """Its busy times went with it (the coach's button, or the admin's delete)."""
    forget_schedules(coach_ids=[instance.coach_id])
