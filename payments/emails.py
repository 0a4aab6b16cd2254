"""Emails about money and bookings, each sent after the transaction commits."""

from datetime import UTC

from django.urls import reverse
from icalendar import Calendar, Event

from hse.emails import Attachment, send_email_on_commit
from payments.models import Order, TopUp
from sessions_app.models import Session


def order_receipt(*, order: Order) -> None:
    send_email_on_commit(
        to=order.client,
        subject=f"Receipt for order #{order.pk}",
        template="order_receipt",
        context={"order": order, "url": reverse("payments:order_detail", args=[order.pk])},
    )


def top_up_receipt(*, top_up: TopUp) -> None:
    send_email_on_commit(
        to=top_up.user,
        subject="Your wallet was topped up",
        template="top_up_receipt",
        context={"top_up": top_up, "url": reverse("payments:wallet")},
    )


def session_invite(session: Session) -> bytes:
    """An iCalendar invitation; instants in UTC, so every calendar shows its own zone."""
    calendar = Calendar()
    calendar.add("prodid", "-//HSE coaching//hse//EN")
    calendar.add("version", "2.0")
    calendar.add("method", "REQUEST")
    event = Event()
    event.add("uid", f"session-{session.pk}@hse")
    event.add("dtstamp", session.created_at.astimezone(UTC))
    event.add("dtstart", session.starts_at.astimezone(UTC))
    event.add("dtend", session.ends_at.astimezone(UTC))
    event.add(
        "summary",
        f"{session.skill.name} coaching: {session.coach.user.display_name} and "
        f"{session.client.display_name}",
    )
    event.add(
        "description", "Join from the Sessions page on HSE: Enter room opens 15 minutes before."
    )
    calendar.add_component(event)
    return calendar.to_ical()


def booking_confirmation(*, session: Session) -> None:
    invite = Attachment("session.ics", session_invite(session), "text/calendar")
    url = reverse("sessions:detail", args=[session.pk])
    for person, other in (
        (session.client, session.coach.user),
        (session.coach.user, session.client),
    ):
        send_email_on_commit(
            to=person,
            subject=f"Booked: {session.skill.name} with {other.display_name}",
            template="booking_confirmation",
            context={"session": session, "other": other, "url": url},
            attachments=(invite,),
        )
