"""The buyer-facing views: pay (POST), and the completed and canceled returns. Thin: the work is in services."""

from __future__ import annotations

import logging
import uuid
from urllib.parse import urlencode

from django.core.exceptions import ValidationError
from django.db import transaction
from django.http import HttpRequest, HttpResponse, HttpResponseRedirect
from django.shortcuts import render, resolve_url
from django.utils.http import url_has_allowed_host_and_scheme
from django.utils.translation import gettext as _
from django.utils.translation import gettext_lazy
from django.views.decorators.cache import never_cache
from django.views.decorators.http import require_GET, require_POST

from . import adapters, conf, services
from .exceptions import OrderNotPayableError, OrkestaPayError, PartiallyPaidError, PaymentInProgressError
from .models import Checkout, Order, OrderStatus
from .signing import (
    CANCELED,
    COMPLETED,
    PAY_FIELD,
    RETURN_PARAM,
    InvalidPayReference,
    InvalidReturnLink,
    load_pay_reference,
    load_return,
)

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


def _order_to_pay(request: HttpRequest) -> Order | uuid.UUID | None:
    """The order the pay form names: ``object`` (a signed shop-object reference: its order, ``None`` when the object
    is gone) or ``order`` (a signed order reference: the id, left for the service to lock and read in one query).
    Raises :class:`InvalidPayReference` before any query when the reference is missing, forged or expired."""
    if "object" in request.POST:
        shop_object = adapters.load_shop_object(request.POST.get("object"))
        return None if shop_object is None else services.order_for(shop_object)
    return load_pay_reference(request.POST.get(PAY_FIELD))


def _refused_reference(request: HttpRequest, reason: str) -> HttpResponse:
    """The answer to a pay form whose reference is refused: "out of date" for a genuine but expired one (400, as for
    any stale form: the order still exists, so not 410), "not valid" for anything else (a bare id, a forgery)."""
    logger.warning("Refused a pay request: %s reference", reason)
    if reason == "expired":
        referer = request.headers.get("Referer", "")
        return _error_page(
            request,
            title=_("This page is out of date"),
            message=_(
                "The payment button you used is too old. Reload the page and press it again; nothing was charged."
            ),
            status=400,
            reload_url=referer if referer and _is_local(request, referer) else "",
        )
    message = _("This payment button is not valid. Please go back to the shop and open your order again.")
    return _error_page(request, title=_("Invalid payment button"), message=message, status=400)


@transaction.non_atomic_requests  # the service layer owns its transactions (a Checkout row survives a failed call)
@require_POST
@never_cache
def pay(request: HttpRequest) -> HttpResponse:
    """Start (or reuse) the order's hosted checkout and send the buyer there (302)."""
    target: Order | uuid.UUID | None = None
    retry = True
    try:
        target = _order_to_pay(request)  # a shop object's description is validated here
        if target is None:
            raise Order.DoesNotExist
        checkout = services.start_checkout(target, build_absolute_uri=request.build_absolute_uri)
    except InvalidPayReference as exc:
        return _refused_reference(request, exc.reason)
    except Order.DoesNotExist:
        return _error_page(request, title=_("Order not found"), message=_("We could not find this order."), status=404)
    except PaymentInProgressError:
        title = _("A payment is in progress")
        message = _(
            "A payment for this order is in progress, for example a bank transfer or a cash payment. "
            "We will confirm it as soon as it arrives; please do not pay again."
        )
        status, retry = 409, False
    except PartiallyPaidError:
        title = _("Part of this order is paid")
        message = _(
            "We received part of the payment for this order. The shop will contact you about the rest; please do "
            "not pay the full amount again."
        )
        status, retry = 409, False
    except OrderNotPayableError:
        title, message, status = _("Nothing to pay"), _("This order is already paid or can no longer be paid."), 409
    except ValidationError:
        logger.exception("Order %s: amounts do not add up; no checkout started", target)
        title = _("This order cannot be paid")
        message = _("The order's amounts do not add up. Please contact the shop.")
        status = 400
    except OrkestaPayError:
        title = _("Payment service unavailable")
        message = _("We could not open the payment page. Nothing was charged; please try again in a moment.")
        status = 503
    else:
        return HttpResponseRedirect(checkout.redirect_url)
    order = None if target is None else Order.objects.filter(pk=getattr(target, "pk", target)).first()
    return _error_page(request, title=title, message=message, status=status, order=order, retry=retry)


def _destination(request: HttpRequest, setting: str, order_url: str, order: Order) -> str | None:
    """Where to send the buyer: the order's own page (only a URL on this site), else the setting's, else None."""
    local = bool(order_url) and _is_local(request, order_url)
    if order_url and not local:
        logger.warning("Ignored an order return page that is not on this site: %r", order_url[:200])
    target = order_url if local else conf.get(setting)
    if not target:
        return None
    url = resolve_url(target)
    separator = "&" if "?" in url else "?"
    return f"{url}{separator}{urlencode({'order': str(order.pk)})}"


def _is_local(request: HttpRequest, url: str) -> bool:
    """Whether ``url`` is on this site (Django's open-redirect guard)."""
    return url_has_allowed_host_and_scheme(url, allowed_hosts={request.get_host()}, require_https=request.is_secure())


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
