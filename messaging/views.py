"""The Messages page, a conversation's thread (with its part for htmx, which the room's chat
panel shows too), starting a conversation, and the header's count."""

from django.contrib.auth.decorators import login_required
from django.http import Http404, HttpResponse, HttpResponseBadRequest
from django.shortcuts import redirect, render
from django.utils import timezone
from django.views.decorators.http import require_GET, require_http_methods, require_POST

from hse.bounds import small_int
from messaging import selectors, services
from messaging.forms import MessageForm


def _conversation_or_404(request, conversation_id: int):
    found = selectors.conversation_for_user_or_none(
        user=request.user, conversation_id=conversation_id
    )
    if found is None:
        raise Http404("No such conversation.")
    return found


def _unchanged(request, state: str) -> bool:
    """A poll that finds the part as it showed it: nothing to swap (204)."""
    return bool(request.htmx) and request.GET.get("since") == state


@login_required
@require_GET
def conversation_list(request):
    page = small_int(request.GET.get("page"), digits=4) or 1
    listing = selectors.conversations_of(user=request.user, page=page)
    if request.htmx:
        if _unchanged(request, listing.state):
            return HttpResponse(status=204)
        return render(request, "messaging/list.html#conversations", {"listing": listing})
    return render(request, "messaging/list.html", {"listing": listing})


@login_required
@require_GET
def unread(request):
    """The header's unread count, refreshed in place (with the pending-actions badge, which
    counts unread messages too); without htmx, the Messages page."""
    if not request.htmx:
        return redirect("messaging:list")
    return render(request, "messaging/includes/header_counts.html")


def _read(request, chat) -> bool:
    """Showing the thread reads what waited for the viewer: True if anything did."""
    if not chat.unread_ids:
        return False
    read = services.conversation_read(
        conversation=chat.conversation, by=request.user, now=timezone.now()
    )
    return read > 0


def _shown(request, conversation) -> dict:
    chat = selectors.thread_of(conversation=conversation, viewer=request.user)
    return {"chat": chat, "read_now": _read(request, chat)}


@login_required
@require_http_methods(["GET", "POST"])
def thread(request, conversation_id: int):
    conversation = _conversation_or_404(request, conversation_id)
    if request.method == "POST":
        return _send(request, conversation)
    before = small_int(request.GET.get("before"), digits=18)
    chat = selectors.thread_of(conversation=conversation, viewer=request.user, before=before)
    if _unchanged(request, chat.state):
        return HttpResponse(status=204)
    context = {"chat": chat, "form": MessageForm(), "read_now": _read(request, chat)}
    if request.htmx:
        return render(request, "messaging/thread.html#thread", context)
    return render(request, "messaging/thread.html", context)


def _send(request, conversation):
    form = MessageForm(request.POST)
    if form.is_valid():
        try:
            services.message_send(
                conversation=conversation, by=request.user, body=form.cleaned_data["body"],
                now=timezone.now(),
            )  # fmt: skip
        except services.MessagingError as error:
            form.add_error("body", str(error))
        else:
            if not request.htmx:
                return redirect("messaging:thread", conversation_id=conversation.pk)
            form = MessageForm()
    context = {**_shown(request, conversation), "form": form}
    if request.htmx:  # the thread again, and the form (emptied, or with its error) out of band
        return render(request, "messaging/thread.html#sent", context)
    return render(request, "messaging/thread.html", context)


@login_required
@require_POST
def read(request, conversation_id: int):
    """An open thread showed a pushed message: it is read, up to that message."""
    conversation = _conversation_or_404(request, conversation_id)
    upto = small_int(request.POST.get("upto"), digits=18)
    if upto is None:
        return HttpResponseBadRequest("Say which message was shown (upto).")
    services.conversation_read(
        conversation=conversation, by=request.user, now=timezone.now(), upto=upto
    )
    return HttpResponse(status=204)


@login_required
@require_http_methods(["GET", "POST"])
def start(request, user_id: int):
    """Writing to someone: the coach's page (a client), a session's page or the room (either
    side). The pair's conversation when there is one; else a first message opens it."""
    pair = selectors.pair_with(viewer=request.user, other_id=user_id)
    if pair is None:
        raise Http404("No one to write to here.")
    if request.method == "GET" and pair.conversation is not None:
        if request.htmx:  # the room's panel, asking whether the conversation began
            return render(request, "messaging/thread.html#chat", _shown(request, pair.conversation))
        return redirect("messaging:thread", conversation_id=pair.conversation.pk)
    if request.method == "GET" and request.htmx:
        return HttpResponse(status=204)  # not yet: the panel keeps its form
    form = MessageForm(request.POST or None)
    if request.method == "POST" and form.is_valid():
        try:
            conversation = services.conversation_start(
                by=request.user, client=pair.client, coach=pair.coach,
                body=form.cleaned_data["body"], now=timezone.now(),
            )  # fmt: skip
        except services.MessagingError as error:
            form.add_error("body", str(error))
        else:
            if not request.htmx:
                return redirect("messaging:thread", conversation_id=conversation.pk)
            context = {**_shown(request, conversation), "form": MessageForm()}
            return render(request, "messaging/thread.html#chat", context)
    elif request.method == "POST" and pair.conversation is not None and not request.htmx:
        return redirect("messaging:thread", conversation_id=pair.conversation.pk)
    other = pair.coach.user if request.user.pk == pair.client.pk else pair.client
    context = {"form": form, "other": other, "in_panel": bool(request.htmx)}
    if request.htmx:
        return render(request, "messaging/start.html#compose", context)
    return render(request, "messaging/start.html", context)
