from django.http import HttpResponse, HttpResponseRedirect
from django.shortcuts import redirect
from django.urls import reverse


def redirect_htmx(request, url: str) -> HttpResponse:
    """A redirect that also works for htmx requests, which would otherwise follow it in
    place and swap the next page into the current one."""
    if request.htmx:
        response = HttpResponse(status=204)
        response["HX-Redirect"] = url
        return response
    return redirect(url)


PANEL_ID = "pending-panel"


def from_panel(request) -> bool:
    """The action was sent from the pending-actions panel (htmx, targeting it)."""
    return bool(request.htmx) and request.htmx.target == PANEL_ID


def card_tag(kind: str, pk: int) -> str:
    """The messages tag that places a message on one card of the panel (``card-<kind>-<pk>``)."""
    return f"card-{kind}-{pk}"


def back_to_panel() -> HttpResponse:
    """The panel again, in place: htmx follows a 303 inside the swap, and the panel comes
    back with the header's count swapped out of band and the messages on their cards."""
    return HttpResponseRedirect(reverse("marketplace:pending"), status=303)
