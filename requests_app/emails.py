"""Request emails, each to the people concerned, in their own zones, after the commit."""

from django.urls import reverse

from hse.emails import bulk_notifier, send_email_on_commit
from requests_app.models import SessionRequest


def _people(request: SessionRequest):
    return request.client, request.coach.user


def _send(request: SessionRequest, *, to, subject: str, headline: str, kind: str) -> None:
    client, coach_user = _people(request)
    other = coach_user if to.pk == client.pk else client
    send_email_on_commit(
        to=to,
        subject=subject,
        template="request_update",
        context={
            "request": request,
            "other": other,
            "headline": headline,
            "kind": kind,
            "url": reverse("requests:detail", args=[request.pk]),
        },
    )


def _receiver(request: SessionRequest):
    client, coach_user = _people(request)
    return client if request.proposed_by_id == coach_user.pk else coach_user


def _sender(request: SessionRequest):
    client, coach_user = _people(request)
    return coach_user if request.proposed_by_id == coach_user.pk else client


def request_received(*, request: SessionRequest) -> None:
    sender = _sender(request)
    what = "a new time for your session" if request.is_reschedule else "a session"
    _send(
        request,
        to=_receiver(request),
        subject=f"{sender.display_name} proposes {what}",
        headline=f"{sender.display_name} proposes {what}.",
        kind="received",
    )


def request_adjusted(*, request: SessionRequest) -> None:
    sender = _sender(request)
    _send(
        request,
        to=_receiver(request),
        subject=f"{sender.display_name} proposes another time",
        headline=f"{sender.display_name} adjusted the request and proposes another time.",
        kind="adjusted",
    )


def request_accepted(*, request: SessionRequest) -> None:
    receiver = _receiver(request)
    _send(
        request,
        to=_sender(request),
        subject=f"{receiver.display_name} accepted your request",
        headline=f"{receiver.display_name} accepted.",
        kind="accepted",
    )


def request_rejected(*, request: SessionRequest) -> None:
    receiver = _receiver(request)
    _send(
        request,
        to=_sender(request),
        subject=f"{receiver.display_name} declined your request",
        headline=f"{receiver.display_name} declined the proposed time.",
        kind="rejected",
    )


def request_cancelled(*, request: SessionRequest) -> None:
    sender = _sender(request)
    _send(
        request,
        to=_receiver(request),
        subject=f"{sender.display_name} cancelled a request",
        headline=f"{sender.display_name} withdrew the proposed time.",
        kind="cancelled",
    )


def request_expired(*, request: SessionRequest) -> None:
    for person in _people(request):
        _send(
            request,
            to=person,
            subject="A session request expired",
            headline="Nobody answered in time, so the request was cancelled automatically.",
            kind="expired",
        )


@bulk_notifier
def requests_expired(ids: list[int]) -> None:
    """For the sweep: the expiry emails of a batch (written out by the worker)."""
    for request in SessionRequest.objects.filter(pk__in=ids).select_related(
        "coach__user", "client", "skill"
    ):
        request_expired(request=request)
