"""URLs: include them with ``path("orkestapay/", include("django_orkestapay.urls"))``."""

from django.urls import path

from . import headless, links, views, webhooks

app_name = "orkestapay"

urlpatterns = [
    path("pay/", views.pay, name="pay"),
    path("return/completed/", views.completed, name="completed"),
    path("return/canceled/", views.canceled, name="canceled"),
    path("webhook/", webhooks.webhook, name="webhook"),
    path("api/pay/", headless.pay, name="api_pay"),
    path("api/status/", headless.status, name="api_status"),
    path("link/<str:token>/", links.payment_link, name="payment_link"),
]
