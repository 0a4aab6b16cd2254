from django.http import HttpResponse
from django.views.decorators.http import require_safe


@require_safe
def healthz(request):
    """A minimal page: for load balancers, and the benchmark's baseline."""
    return HttpResponse("ok", content_type="text/plain")
