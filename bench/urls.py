"""The bench site's URLs: the app, the admin, and a CSRF token for the load generator."""

from django.contrib import admin
from django.http import HttpRequest, HttpResponse
from django.middleware.csrf import get_token
from django.urls import include, path


def csrf_token(request: HttpRequest) -> HttpResponse:
    """A CSRF token as text, with its cookie set (what a shop page with the pay button gives the browser)."""
    return HttpResponse(get_token(request), content_type="text/plain")


urlpatterns = [
    path("admin/", admin.site.urls),
    path("orkestapay/", include("django_orkestapay.urls")),
    path("bench/csrf/", csrf_token, name="bench-csrf"),
]
