"""Reviews after the fact: the client rates a confirmed session (one the clock confirmed,
most often) within HSE_RATING_DAYS, and the coach answers a review publicly. Another
person's session answers 404."""

from django.contrib import messages
from django.contrib.auth.decorators import login_required
from django.http import Http404
from django.shortcuts import redirect, render
from django.utils import timezone
from django.views.decorators.http import require_http_methods, require_POST

from sessions_app import services
from sessions_app.forms import ConfirmForm, ReplyForm
from sessions_app.lifecycle import BookingError, can_rate, rating_closes_at
from sessions_app.selectors import session_for_user_or_none


def _own(request, session_id: int, *, coach: bool):
    session = session_for_user_or_none(user=request.user, session_id=session_id)
    mine = session is not None and (
        session.coach.user_id == request.user.pk if coach else session.client_id == request.user.pk
    )
    if not mine:
        raise Http404("No such session.")
    return session


@login_required
@require_http_methods(["GET", "POST"])
def rate(request, session_id: int):
    session = _own(request, session_id, coach=False)
    now = timezone.now()
    form = ConfirmForm(request.POST or None)
    if request.method == "POST" and form.is_valid():
        try:
            services.session_rate(
                session=session, by=request.user, rating=form.cleaned_data["rating"],
                comment=form.cleaned_data["comment"], now=now,
            )  # fmt: skip
        except BookingError as error:
            form.add_error(None, str(error))
        else:
            messages.success(request, "Thank you: your rating is on the coach's page.")
            return redirect("sessions:detail", session_id=session.pk)
    context = {
        "session": session,
        "form": form,
        "open": can_rate(session, now),
        "closes_at": rating_closes_at(session),
    }
    status = 400 if request.method == "POST" else 200
    return render(request, "sessions_app/rate.html", context, status=status)


@login_required
@require_POST
def reply(request, session_id: int):
    session = _own(request, session_id, coach=True)
    form = ReplyForm(request.POST)
    if not form.is_valid():
        messages.error(request, " ".join(e for errors in form.errors.values() for e in errors))
    else:
        try:
            services.review_reply(
                session=session, by=request.user, text=form.cleaned_data["reply"],
                now=timezone.now(),
            )  # fmt: skip
            messages.success(request, "Your reply is on your page, under the review.")
        except BookingError as error:
            messages.error(request, str(error))
    return redirect("sessions:detail", session_id=session.pk)
