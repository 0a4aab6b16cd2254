import json

from django.contrib.auth.decorators import login_required
from django.http import Http404, JsonResponse
from django.utils import timezone
from django.views.decorators.http import require_http_methods

from hse.bounds import small_int
from sessions_app import signalling
from sessions_app.views import _session_or_404


@login_required
@require_http_methods(["GET", "POST"])
def signals(request, session_id: int):
    """GET ?after=N: the other person's signals since N. POST {"kind", "data"}: send one.
    Strangers, and everyone outside the room's window, find nothing here (404)."""
    session = _session_or_404(request, session_id)
    now = timezone.now()
    if not signalling.window_open(session, now):
        raise Http404("The room is not open.")
    if request.method == "GET":
        after = small_int(request.GET.get("after", "0"), digits=18)
        if after is None:
            return JsonResponse({"error": "after must be a whole number"}, status=400)
        found = signalling.signals_for(session=session, user=request.user, after=after)
        return JsonResponse(
            {"signals": [{"id": s.id, "kind": s.kind, "data": s.data} for s in found]}
        )
    if len(request.body) > signalling.MAX_BODY:
        return JsonResponse({"error": "the body is too large for a signal"}, status=400)
    if signalling.nested_too_deep(request.body):
        return JsonResponse({"error": "the body is nested too deep for a signal"}, status=400)
    try:
        body = json.loads(request.body or b"null")
    except (ValueError, RecursionError):  # not JSON, not UTF-8
        return JsonResponse({"error": "the body must be JSON"}, status=400)
    if not isinstance(body, dict):
        return JsonResponse({"error": "the body must be a JSON object"}, status=400)
    try:
        signal = signalling.signal_post(
            session=session, by=request.user, kind=body.get("kind"), data=body.get("data"), now=now
        )
    except signalling.SignalError as error:
        return JsonResponse({"error": str(error)}, status=400)
    return JsonResponse({"id": signal.id}, status=201)
