"""The payment link's page (``orkestapay:payment_link``): GET shows the order (what is to be paid, the amounts) and
where it stands, with its pay button; POST (the button) starts or reuses the checkout and sends the buyer to
OrkestaPay. An unknown link is a 404, an expired or revoked one a 410, each with a clear page. Thin: the work is in
:mod:`django_orkestapay.services.payment_links`."""

from __future__ import annotations

import logging
from decimal import Decimal
from typing import Any

from django.db import transaction
from django.http import HttpRequest, HttpResponse, HttpResponseRedirect
from django.shortcuts import render
from django.utils.translation import gettext as _
from django.views.decorators.cache import never_cache
from django.views.decorators.http import require_http_methods

from . import services
from .exceptions import PaymentLinkUnusableError
from .models import Order, PaymentLink
from .paying import CHECKOUT_REFUSALS, refusal_for

logger = logging.getLogger("django_orkestapay.views")


def _private(response: HttpResponse) -> HttpResponse:
    """The link's token is in its URL: no search engine, no Referer to another site."""
    response["Referrer-Policy"] = "same-origin"
    response["X-Robots-Tag"] = "noindex, nofollow"
    return response


def _gone(request: HttpRequest, exc: PaymentLinkUnusableError) -> HttpResponse:
    titles = {
        "expired": _("This payment link has expired"),
        "revoked": _("This payment link is no longer valid"),
    }
    message = {
        "expired": _("Ask the shop for a new link if you still want to pay."),
        "revoked": _("The shop canceled this link. Ask the shop for a new one if you still want to pay."),
    }.get(exc.reason, _("Check that you copied the whole link, or ask the shop for a new one."))
    link: PaymentLink | None = exc.link
    if link is not None and link.order.is_paid:
        message = _("This order is paid.")
    context: dict[str, Any] = {
        "title": titles.get(exc.reason, _("Payment link not found")),
        "message": message,
        "order": None,
        "retry": False,
    }
    status = 404 if exc.reason == "unknown" else 410
    logger.warning("A payment link was refused: %s", exc.reason)
    return _private(render(request, "django_orkestapay/error.html", context, status=status))


def _lines(order: Order) -> list[dict[str, Any]]:
    return [{**item, "total": item["unit_price"] * Decimal(str(item["quantity"]))} for item in order.line_items()]


@transaction.non_atomic_requests  # the service layer owns its transactions (as the pay view)
@require_http_methods(["GET", "HEAD", "POST"])
@never_cache
def payment_link(request: HttpRequest, token: str) -> HttpResponse:
    """A payment link's page (GET) and its pay button (POST)."""
    try:
        link = services.resolve_payment_link(token)
        if request.method == "POST":
            checkout = services.pay_through_link(link, build_absolute_uri=request.build_absolute_uri)
            return HttpResponseRedirect(checkout.redirect_url)
    except PaymentLinkUnusableError as exc:
        return _gone(request, exc)
    except CHECKOUT_REFUSALS as exc:
        refusal = refusal_for(exc, link.order_id)
        context: dict[str, Any] = {
            "title": refusal.title,
            "message": refusal.message,
            "order": Order.objects.filter(pk=link.order_id).first(),
            "reload_url": link.get_absolute_url(),
            "retry": False,
        }
        response = render(request, "django_orkestapay/error.html", context, status=refusal.status)
        if refusal.retry_after is not None:
            response["Retry-After"] = str(refusal.retry_after)
        return _private(response)
    order = link.order
    state = services.payment_state(order)  # the page reads it, and its button.html include
    context = {
        "state": state,
        "status_text": state.kind not in ("paid", "refunded"),  # the page's heading says those
        "link": link,
        "order": order,
        "lines": _lines(order),
        "action": link.get_absolute_url(),
    }
    return _private(render(request, "django_orkestapay/payment_link.html", context))
