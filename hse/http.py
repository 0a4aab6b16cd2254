from django.http import HttpResponse
from django.shortcuts import redirect


def redirect_htmx(request, url: str) -> HttpResponse:
    """A redirect that also works for htmx requests, which would otherwise follow it in
    place and swap the next page into the current one."""
    if request.htmx:
        response = HttpResponse(status=204)
        response["HX-Redirect"] = url
        return response
    return redirect(url)
