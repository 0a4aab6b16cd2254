"""Cache upkeep, no business rules: what coach pages and schedules show of sessions is
renewed whenever a session is saved, whether a service or the admin saved it."""

from django.db.models.signals import post_delete, post_save
from django.dispatch import receiver

from accounts.models import User
from coaching.selectors import forget_coach_profiles, forget_schedules
from coaching.signals import UNSEEN_USER_FIELDS
from sessions_app.models import Session


@receiver([post_save, post_delete], sender=Session)
def session_saved(sender, instance, **kwargs):
    forget_schedules(coach_ids=[instance.coach_id], client_ids=[instance.client_id])
    # A rating given, or changed or removed in the admin: only a rated or confirmed session
    # is, or may have been, among the coach's reviews.
    if instance.rating is not None or instance.status == Session.Status.CONFIRMED:
        forget_coach_profiles(instance.coach_id)


@receiver(post_save, sender=User)
def reviewer_changed(sender, instance, update_fields=None, **kwargs):
    """A client's name is shown under the reviews they wrote."""
    if update_fields and set(update_fields) <= UNSEEN_USER_FIELDS:
        return
    reviewed = Session.objects.filter(client=instance, rating__isnull=False)
    forget_coach_profiles(*reviewed.values_list("coach_id", flat=True).distinct())
