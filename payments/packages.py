"""A package's life after its purchase: how long its credits may be scheduled, an extension
the client asks for and the coach accepts or declines, and ending it with the unused credits'
price back in the wallet. The credits themselves change only in ``ledger.services``; emails
go after the commit."""

from dataclasses import dataclass
from datetime import datetime, timedelta

from django.conf import settings
from django.db import IntegrityError, transaction
from django.db.models import Count, Exists, Max, Min, OuterRef, Q, QuerySet, Sum

from accounts.models import User
from hse.money import format_money
from hse.states import Machine
from hse.sweeps import in_locked_batches
from ledger import services as ledger
from ledger.emails import package_email
from ledger.models import Credit
from payments.models import Order, PackageExtension, PackageExtensionEvent
from payments.services import PaymentError
from sessions_app.selectors import forget_pending_counts

X = PackageExtension.Status
CS = Credit.Status

EXTENSION = Machine(
    transitions={
        "accept": ((X.PENDING,), X.ACCEPTED),
        "decline": ((X.PENDING,), X.DECLINED),
    },
    event=PackageExtensionEvent,
    link="extension",
    error=PaymentError,
    refused="This request was {state}.",
)


@dataclass(frozen=True)
class Package:
    """What a paid order's credits are now, for its page."""

    unused: int  # may still be scheduled
    unused_value: int  # their price: what ending the package returns
    held: int
    scheduled: int
    used: int
    expired: int
    ended: int
    expires_at: datetime | None  # the earliest expiry of the credits still to be used
    open_extension: PackageExtension | None
    last_extension: PackageExtension | None

    @property
    def live(self) -> bool:
        return self.unused + self.held + self.scheduled > 0


def package_of(*, order: Order) -> Package:
    """One query for the counts, one for the extensions."""
    counts = {
        row["status"]: row
        for row in Credit.objects.filter(order=order)
        .values("status")
        .annotate(n=Count("id"), value=Sum("price_paid"), until=Min("expires_at"))
    }

    def n(status):
        return counts.get(status, {}).get("n", 0)

    to_use = [counts[s]["until"] for s in (CS.AVAILABLE, CS.HELD, CS.SCHEDULED) if s in counts]
    extensions = list(order.extensions.all()[:1])
    last = extensions[0] if extensions else None
    return Package(
        unused=n(CS.AVAILABLE), unused_value=counts.get(CS.AVAILABLE, {}).get("value") or 0,
        held=n(CS.HELD), scheduled=n(CS.SCHEDULED), used=n(CS.USED) + n(CS.REFUNDED),
        expired=n(CS.EXPIRED), ended=n(CS.ENDED),
        expires_at=min((t for t in to_use if t is not None), default=None),
        open_extension=last if last is not None and last.status == X.PENDING else None,
        last_extension=last,
    )  # fmt: skip


def _unexpired(now: datetime) -> Q:
    """A package's credits still to be used whose expiry has not come: while it has one, the
    package has not expired."""
    return Q(status__in=(CS.AVAILABLE, CS.HELD, CS.SCHEDULED)) & (
        Q(expires_at__isnull=True) | Q(expires_at__gt=now)
    )


def _paid_package(order: Order) -> None:
    if order.status != Order.Status.PAID:
        raise PaymentError("This order is not paid, so it has no sessions to manage.")


def extension_ask(*, order: Order, by: User, now: datetime) -> PackageExtension:
    """The client asks the coach for HSE_PACKAGE_EXTENSION_MONTHS more, before the package
    expires; one open question per package (a second ask while one waits is refused with a
    message). The coach answers within HSE_EXTENSION_ANSWER_DAYS or it lapses."""
    months = settings.HSE_PACKAGE_EXTENSION_MONTHS
    with transaction.atomic():
        order = Order.objects.select_for_update().select_related("coach__user").get(pk=order.pk)
        _paid_package(order)
        if by.pk != order.client_id:
            raise PaymentError("Only the client who bought the package can ask.")
        live = Credit.objects.filter(order=order, status__in=(CS.AVAILABLE, CS.HELD, CS.SCHEDULED))
        if not live.exists():
            raise PaymentError(
                "Every session of this package is used, so there is nothing to extend."
            )
        # Once the package has expired its unused sessions go back to the wallet; a question
        # asked then would hold that back for another wait.
        if not live.filter(_unexpired(now)).exists():
            raise PaymentError("This package has expired, so it can no longer be extended.")
        if order.extensions.filter(status=X.PENDING).exists():
            raise PaymentError(
                f"You asked already; {order.coach.user.display_name} has not answered yet."
            )
        try:
            with transaction.atomic():
                extension = PackageExtension.objects.create(
                    order=order, months=months, created_at=now
                )
        except IntegrityError as taken:  # the same ask at the same moment
            raise PaymentError("You asked already; the coach has not answered yet.") from taken
        EXTENSION.record(extension, "ask", by=by, now=now, why=f"{months} month(s) more")
        forget_pending_counts(order.coach.user_id)  # a question in the coach's pending actions
        package_email(
            to=order.coach.user, order=order, kind="extension_asked",
            subject=f"{order.client.display_name} asks for more time for their package",
            months=months, extension=extension,
        )  # fmt: skip
    return extension


def extension_answer(*, extension: PackageExtension, accept: bool, by: User, now: datetime):
    """The coach accepts (every credit still to be used may be scheduled ``months`` longer)
    or declines. A package with nothing left to extend is declined with that reason."""
    with transaction.atomic():
        # The order's row first, then the extension's: the order package_end and
        # extension_ask lock in, so an answer and an end at the same moment queue instead
        # of deadlocking.
        order_id = PackageExtension.objects.values_list("order_id", flat=True).get(pk=extension.pk)
        order = (
            Order.objects.select_for_update(of=("self",))
            .select_related("coach__user", "client")
            .get(pk=order_id)
        )
        extension = PackageExtension.objects.select_for_update().get(pk=extension.pk)
        extension.order = order
        if by.pk != order.coach.user_id:
            raise PaymentError("Only the package's coach can answer.")
        until = None
        if accept:
            until = ledger.package_extend(order=order, months=extension.months, by=by, now=now)
            if until is None:
                raise PaymentError("Nothing of this package is left to extend; decline it instead.")
        EXTENSION.move(
            extension, "accept" if accept else "decline", by=by, now=now,
            why="accepted by the coach" if accept else "declined by the coach",
            decided_at=now, new_expires_at=until,
        )  # fmt: skip
        forget_pending_counts(order.coach.user_id)
        package_email(
            to=order.client, order=order,
            kind="extension_accepted" if accept else "extension_declined",
            subject=f"{order.coach.user.display_name} "
            + ("extended your package" if accept else "did not extend your package"),
            extension=extension,
        )  # fmt: skip
    return extension


def package_end(*, order: Order, by: User, now: datetime) -> tuple[int, int]:
    """The client ends a package: the unused credits' price goes to the wallet, once (a
    second end finds nothing unused). Returns (credits ended, amount)."""
    with transaction.atomic():
        order = Order.objects.select_for_update().select_related("coach__user").get(pk=order.pk)
        _paid_package(order)
        if by.pk != order.client_id:
            raise PaymentError("Only the client who bought the package can end it.")
        count, amount = ledger.package_end(order=order, by=by, now=now)
        if count == 0:
            raise PaymentError("No session of this package is left unused, so nothing was ended.")
        # Asking for more time makes no sense any more when nothing is left to schedule.
        if not Credit.objects.filter(order=order, status__in=(CS.HELD, CS.SCHEDULED)).exists():
            for open_one in order.extensions.select_for_update().filter(status=X.PENDING):
                EXTENSION.move(open_one, "decline", by=by, now=now, why="the package was ended")
                forget_pending_counts(order.coach.user_id)
        package_email(
            to=order.client, order=order, kind="ended",
            subject=f"Package ended: {format_money(amount, order.currency)} back in your wallet",
            count=count, amount=amount, currency=order.currency,
        )  # fmt: skip
    return count, amount


def extensions_lapse_due(*, now: datetime, batch: int = 500) -> int:
    """The sweep: a question the coach has not answered within HSE_EXTENSION_ANSWER_DAYS
    lapses (declined, "not answered"), so the package's expiry, which waited for the answer
    (``ledger.services.WAITING_FOR_EXTENSION``), goes on; the client is told. An answer at
    the same moment waits for the batch's lock and then finds the question closed. Returns
    how many lapsed."""
    days = settings.HSE_EXTENSION_ANSWER_DAYS
    due = PackageExtension.objects.filter(
        status=X.PENDING, created_at__lte=now - timedelta(days=days)
    ).order_by("created_at", "pk")

    def handle(rows):
        lapsed = EXTENSION.move_many(
            [row.pk for row in rows], "decline", now=now, decided_at=now,
            why=f"not answered within {days} days",
        )  # fmt: skip
        # Asked in its last week, a package has expired by now: the expiry sweep returns its
        # unused sessions next, with an email of its own.
        told = (
            PackageExtension.objects.filter(pk__in=lapsed)
            .select_related("order__coach__user", "order__client")
            .annotate(
                unexpired=Exists(Credit.objects.filter(_unexpired(now), order=OuterRef("order")))
            )
        )
        for extension in told:
            order = extension.order
            package_email(
                to=order.client, order=order, kind="extension_unanswered",
                subject=f"{order.coach.user.display_name} did not answer your request for "
                "more time",
                extension=extension, days=days, expired=not extension.unexpired,
            )  # fmt: skip
        forget_pending_counts(*{extension.order.coach.user_id for extension in told})
        return len(lapsed)

    return in_locked_batches(due, handle, batch=batch)


def extensions_waiting_rows(*, coach_user: User) -> QuerySet[PackageExtension]:
    """The coach's unanswered extension questions (none for anyone but a coach): what their
    pending actions list and their header counts."""
    if not coach_user.is_coach:
        return PackageExtension.objects.none()
    return PackageExtension.objects.filter(order__coach__user=coach_user, status=X.PENDING)


def extensions_waiting_for(*, coach_user: User) -> list[PackageExtension]:
    """The coach's unanswered extension questions, oldest first."""
    return list(
        extensions_waiting_rows(coach_user=coach_user)
        .select_related("order__client", "order__skill")
        .order_by("created_at", "pk")
    )


def extension_for_coach_or_none(*, user: User, extension_id: int) -> PackageExtension | None:
    return (
        PackageExtension.objects.filter(pk=extension_id, order__coach__user=user)
        .select_related("order__client", "order__skill", "order__coach__user")
        .annotate(
            until=Max(
                "order__credits__expires_at",
                filter=Q(order__credits__status__in=[CS.AVAILABLE, CS.HELD, CS.SCHEDULED]),
            )
        )
        .first()
    )
