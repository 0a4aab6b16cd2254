"""Emails about a client's credits running out, from the ledger's sweep: one per client and
package (order), written by the worker from the batch's notice (``hse.emails``)."""

from collections import defaultdict

from django.urls import reverse

from hse.emails import bulk_notifier, send_email_on_commit
from ledger.models import Credit


def package_email(*, to, order, kind: str, subject: str, **extra) -> None:
    """The one template of package news: ``kind`` says which (reminder, expired, ended,
    extension_asked, extension_accepted, extension_declined, extension_unanswered)."""
    send_email_on_commit(
        to=to,
        subject=subject,
        template="package_update",
        context={
            "order": order,
            "coach_name": order.coach.user.display_name,
            "client_name": order.client.display_name,
            "kind": kind,
            "url": reverse("payments:order_detail", args=[order.pk]),
            **extra,
        },
    )


def _by_package(ids: list[int]) -> list[list[Credit]]:
    groups: dict[int, list[Credit]] = defaultdict(list)
    credits = Credit.objects.filter(pk__in=ids).select_related(
        "order__coach__user", "order__client", "skill"
    )
    for credit in credits.order_by("pk"):
        groups[credit.order_id].append(credit)
    return list(groups.values())


@bulk_notifier
def expiry_reminders(ids: list[int], *, days: int) -> None:
    """The reminders ``days`` before credits ``ids`` expire."""
    for credits in _by_package(ids):
        order = credits[0].order
        package_email(
            to=order.client, order=order, kind="reminder",
            subject=f"{len(credits)} session(s) with {order.coach.user.display_name} expire soon",
            count=len(credits), days=days, first=min(credits, key=lambda c: c.expires_at),
            amount=sum(c.price_paid for c in credits), currency=credits[0].currency,
        )  # fmt: skip


@bulk_notifier
def credits_expired(ids: list[int]) -> None:
    """Credits ``ids`` expired unused: their price went back to the wallet."""
    for credits in _by_package(ids):
        order = credits[0].order
        package_email(
            to=order.client, order=order, kind="expired",
            subject=f"Unused sessions with {order.coach.user.display_name} were refunded",
            count=len(credits), amount=sum(c.price_paid for c in credits),
            currency=credits[0].currency,
        )  # fmt: skip
