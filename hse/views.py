from django.http import HttpResponse
from django.views.decorators.http import require_GET


@require_GET
def healthz(request):
    """A minimal page: for load balancers, and the benchmark's baseline."""
    return HttpResponse("ok", content_type="text/plain")
