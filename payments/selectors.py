from accounts.models import User
from payments.models import Order
from sessions_app.models import Session


def order_for_client_or_none(*, user: User, order_id: int) -> Order | None:
    return (
        Order.objects.filter(client=user, pk=order_id)
        .select_related("coach__user", "skill", "held_session")
        .first()
    )


def order_session(*, order: Order) -> Session | None:
    """The session a paid single-session order booked (None for packages)."""
    if not order.is_single or order.status != Order.Status.PAID:
        return None
    return (
        Session.objects.filter(credit__order=order, status=Session.Status.SCHEDULED)
        .select_related("coach__user", "skill", "survey")
        .first()
    )
