"""A package's pages: the client asks for more time or ends it (from the order's page), the
coach answers an extension. Another person's order or extension answers 404."""

from django.contrib import messages
from django.contrib.auth.decorators import login_required
from django.http import Http404
from django.shortcuts import redirect, render
from django.urls import reverse
from django.utils import timezone
from django.views.decorators.http import require_http_methods, require_POST

from hse.money import format_money
from payments import packages, selectors
from payments.services import PaymentError


def _order_or_404(request, order_id: int):
    order = selectors.order_for_client_or_none(user=request.user, order_id=order_id)
    if order is None:
        raise Http404("No such order.")
    return order


@login_required
@require_POST
def package_extend(request, order_id: int):
    order = _order_or_404(request, order_id)
    try:
        packages.extension_ask(order=order, by=request.user, now=timezone.now())
        messages.success(
            request, f"Asked {order.coach.user.display_name}; we email you the answer."
        )
    except PaymentError as error:
        messages.error(request, str(error))
    return redirect("payments:order_detail", order.pk)


@login_required
@require_http_methods(["GET", "POST"])
def package_end(request, order_id: int):
    """GET asks first, saying what goes back; POST ends it."""
    order = _order_or_404(request, order_id)
    if request.method == "GET":
        package = packages.package_of(order=order)
        return render(request, "payments/package_end.html", {"order": order, "package": package})
    try:
        count, amount = packages.package_end(order=order, by=request.user, now=timezone.now())
        messages.success(
            request,
            f"Package ended: {count} unused session(s), "
            f"{format_money(amount, order.currency)} back in your wallet.",
        )
    except PaymentError as error:
        messages.error(request, str(error))
    return redirect("payments:order_detail", order.pk)


def _extension_or_404(request, extension_id: int):
    extension = packages.extension_for_coach_or_none(user=request.user, extension_id=extension_id)
    if extension is None:
        raise Http404("No such request.")
    return extension


@login_required
@require_http_methods(["GET"])
def extension_detail(request, extension_id: int):
    extension = _extension_or_404(request, extension_id)
    package = packages.package_of(order=extension.order)
    return render(request, "payments/extension.html", {"extension": extension, "package": package})


@login_required
@require_POST
def extension_answer(request, extension_id: int):
    extension = _extension_or_404(request, extension_id)
    decision = request.POST.get("decision")
    if decision not in ("accept", "decline"):
        messages.error(request, "Choose Accept or Decline.")
    else:
        try:
            packages.extension_answer(
                extension=extension, accept=decision == "accept", by=request.user,
                now=timezone.now(),
            )  # fmt: skip
            messages.success(
                request,
                "Extended: we told the client."
                if decision == "accept"
                else "Declined: we told the client.",
            )
        except PaymentError as error:
            messages.error(request, str(error))
    return redirect(reverse("payments:extension_detail", args=[extension.pk]))
