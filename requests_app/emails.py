"""Request emails, each to the people concerned, in their own zones, after the commit."""

from django.urls import reverse

from hse.emails import bulk_notifier, send_email_on_commit
from requests_app.models import SessionRequest


def _people(request: SessionRequest):
    return request.client, request.coach.user


def _send(
    request: SessionRequest, *, to, subject: str, headline: str, kind: str, reason: str = ""
) -> None:
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
            "reason": reason,
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
    if request.is_series:
        what = "a weekly series of sessions"
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


def series_not_booked(*, request: SessionRequest, reason: str) -> None:
    """The receiver tried to accept a weekly series (or new times for one) and one of its
    times was taken meanwhile: nothing was booked or moved, and the sender hears why."""
    receiver = _receiver(request)
    if request.is_reschedule:
        subject = f"{receiver.display_name} could not move your weekly sessions"
        headline = (
            f"{receiver.display_name} tried to accept the new times, but one of them is no "
            "longer free, so no session was moved. Cancel the request and propose other times."
        )
    else:
        subject = f"{receiver.display_name} could not book your weekly series"
        headline = (
            f"{receiver.display_name} tried to accept your weekly series, but one of its times "
            "is no longer free, so none was booked. Your credits stay held until the request "
            "is answered or expires; cancel it to set up the series again."
        )
    _send(
        request,
        to=_sender(request),
        subject=subject,
        headline=headline,
        kind="not_booked",
        reason=reason,
    )


def wallet_short(*, request: SessionRequest, reason: str) -> None:
    """The coach accepted the client's longer session, and the client's wallet no longer
    covers the difference: nothing moved, and only the client hears what to top up."""
    coach = request.coach.user.display_name
    _send(
        request,
        to=request.client,
        subject=f"Top up your wallet: {coach} accepted a longer session",
        headline=(
            f"{coach} accepted the longer session you asked for, but your wallet does not "
            "cover the difference, so nothing changed. Top up your wallet and ask them to "
            "accept again; the request stays open until its deadline."
        ),
        kind="wallet_short",
        reason=reason,
    )
