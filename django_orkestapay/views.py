"""The buyer-facing views: pay (POST), and the completed and canceled returns. Thin: the work is in services."""

from __future__ import annotations

import logging
from urllib.parse import urlencode

from django.db import transaction
from django.http import HttpRequest, HttpResponse, HttpResponseRedirect
from django.shortcuts import render, resolve_url
from django.utils.translation import gettext as _
from django.utils.translation import gettext_lazy
from django.views.decorators.cache import never_cache
from django.views.decorators.http import require_GET, require_POST

from . import conf, services
from .exceptions import OrkestaPayError
from .models import Checkout, Order, OrderStatus
from .paying import Refusal, is_local, start_payment
from .signing import CANCELED, COMPLETED, RETURN_PARAM, InvalidReturnLink, load_return

logger = logging.getLogger("django_orkestapay.views")

_LINK_ERRORS = {
    "missing": gettext_lazy("This payment link is incomplete."),
    "malformed": gettext_lazy("This payment link is not valid."),
    "bad_signature": gettext_lazy("This payment link is not valid."),
    "wrong_side": gettext_lazy("This payment link is not valid."),
    "expired": gettext_lazy("This payment link has expired. Your order is safe: please return to the shop."),
    "unknown": gettext_lazy("This payment link does not match any order."),
}


def _error_page(
    request: HttpRequest,
    *,
    title: str,
    message: str,
    status: int,
    order: Order | None = None,
    reload_url: str = "",
    retry: bool = True,
) -> HttpResponse:
    context = {"title": title, "message": message, "order": order, "reload_url": reload_url, "retry": retry}
    return render(request, "django_orkestapay/error.html", context, status=status)


@transaction.non_atomic_requests  # the service layer owns its transactions (a Checkout row survives a failed call)
@require_POST
@never_cache
def pay(request: HttpRequest) -> HttpResponse:
    """Start (or reuse) the order's hosted checkout and send the buyer there (302)."""
    outcome = start_payment(request, request.POST)
    if not isinstance(outcome, Refusal):
        return HttpResponseRedirect(outcome.redirect_url)
    return _error_page(
        request,
        title=outcome.title,
        message=outcome.message,
        status=outcome.status,
        order=outcome.order,
        reload_url=outcome.reload_url,
        retry=outcome.retry,
    )


def _destination(request: HttpRequest, setting: str, order_url: str, order: Order) -> str | None:
    """Where to send the buyer: the order's own page (only a URL on this site), else the setting's, else None."""
    local = bool(order_url) and is_local(request, order_url)
    if order_url and not local:
        logger.warning("Ignored an order return page that is not on this site: %r", order_url[:200])
    target = order_url if local else conf.get(setting)
    if not target:
        return None
    url = resolve_url(target)
    separator = "&" if "?" in url else "?"
    return f"{url}{separator}{urlencode({'order': str(order.pk)})}"


def _handle_return(request: HttpRequest, side: str) -> HttpResponse:
    try:
        link = load_return(
            request.GET.get(RETURN_PARAM), expected_side=side, max_age=float(conf.get("RETURN_LINK_MAX_AGE"))
        )
    except InvalidReturnLink as exc:
        logger.warning("Rejected a %s return link: %s", side, exc.reason)
        return _error_page(request, title=_("Invalid link"), message=str(_LINK_ERRORS[exc.reason]), status=400)
    try:
        result = services.confirm_return(link, reported_order_id=request.GET.get("order_id"))
    except Checkout.DoesNotExist:
        logger.warning("A signed %s return named no checkout of ours (order %s)", side, link.order_id)
        return _error_page(request, title=_("Invalid link"), message=str(_LINK_ERRORS["unknown"]), status=400)
    except OrkestaPayError:
        order = Order.objects.filter(pk=link.order_id).first()
        response = _error_page(
            request,
            title=_("We are confirming your payment"),
            message=_(
                "We could not reach the payment service to confirm your payment. "
                "Nothing is lost: this page will try again in a few seconds."
            ),
            status=503,
            order=order,
        )
        response["Retry-After"] = "10"
        response["Refresh"] = "10"
        return response
    order = result.order
    if order.is_paid:
        destination = _destination(request, "SUCCESS_URL", order.success_url, order)
    elif order.status in (OrderStatus.CANCELED, OrderStatus.FAILED, OrderStatus.EXPIRED):
        destination = _destination(request, "CANCEL_URL", order.cancel_url, order)
    else:
        destination = None  # still pending: our own page, which re-checks
    if destination:
        return HttpResponseRedirect(destination)
    pending = order.status in (OrderStatus.PENDING, OrderStatus.CREATED)
    response = render(
        request,
        "django_orkestapay/return.html",
        {"order": order, "side": side, "pending": pending, "flagged": result.flagged},
    )
    if pending:
        response["Refresh"] = "5"
    return response


@transaction.non_atomic_requests
@require_GET
@never_cache
def completed(request: HttpRequest) -> HttpResponse:
    """Where OrkestaPay sends the buyer after paying: confirm with the API, then show or redirect."""
    return _handle_return(request, COMPLETED)


@transaction.non_atomic_requests
@require_GET
@never_cache
def canceled(request: HttpRequest) -> HttpResponse:
    """Where OrkestaPay sends the buyer after canceling: confirm with the API, then show or redirect."""
    return _handle_return(request, CANCELED)
