import sys

from django.db.utils import OperationalError
from django.http import HttpResponse
from django.views import defaults
from django.views.decorators.http import require_safe
from psycopg_pool import PoolTimeout


@require_safe
def healthz(request):
    """A minimal page: for load balancers, and the benchmark's baseline."""
    return HttpResponse("ok", content_type="text/plain")


def server_error(request):
    """Django's 500 page, except when no database connection came free in time: the site
    is busy rather than broken, so 503 with Retry-After, which a client may retry."""
    error = sys.exc_info()[1]
    if isinstance(error, OperationalError) and isinstance(error.__cause__, PoolTimeout):
        response = HttpResponse(
            "HSE is busy right now. Please try again in a few seconds.",
            status=503,
            content_type="text/plain",
        )
        response["Retry-After"] = "5"
        return response
    return defaults.server_error(request)
