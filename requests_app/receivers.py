"""What requests do when something below them changes, and cache upkeep for their rows."""

from django.db.models.signals import post_delete, post_save
from django.dispatch import receiver

from coaching.selectors import forget_schedules
from requests_app.models import SessionRequest
from requests_app.services import requests_close_for_session
from sessions_app.signals import session_cancelled


@receiver([post_save, post_delete], sender=SessionRequest)
def request_saved(sender, instance, **kwargs):
    # An open proposal holds its time for both people.
    forget_schedules(coach_ids=[instance.coach_id], client_ids=[instance.client_id])


@receiver(session_cancelled)
def session_was_cancelled(sender, session, by, now, **kwargs):
    requests_close_for_session(session=session, by=by, now=now)
