"""A pay request, shared by the pay button's view and the JSON endpoint (:mod:`django_orkestapay.headless`): what the
signed reference names, who may pay (the JSON endpoint's permission hook), the checkout started, and why a request
starts none (:class:`Refusal`: a stable error code, a translated title and message, the HTTP status)."""

from __future__ import annotations

import logging
import uuid
from collections.abc import Callable, Mapping
from dataclasses import dataclass, replace
from typing import Any

from django.core.exceptions import ValidationError
from django.db import OperationalError
from django.db.models import Model
from django.http import HttpRequest
from django.utils.http import url_has_allowed_host_and_scheme
from django.utils.translation import gettext as _

from . import adapters, services
from .adapters import OBJECT_FIELD
from .exceptions import (
    OrderNotPayableError,
    OrkestaPayError,
    PartiallyPaidError,
    PaymentInProgressError,
    TooManyFailedCheckoutsError,
)
from .models import Checkout, Order
from .signing import PAY_FIELD, InvalidPayReference, load_pay_reference

# The pay view's logger, as before the JSON endpoint shared this code: a shop's log filters keep working.
logger = logging.getLogger("django_orkestapay.views")


@dataclass(frozen=True)
class Refusal:
    """Why a pay request starts no checkout: a stable ``error`` code (the JSON endpoint's), the page's ``title`` and
    ``message``, the HTTP ``status``; the ``order`` when the reference named one, whether a new try is offered, and
    the page to reload (an expired button), and the seconds to wait before another try (``Retry-After``)."""

    error: str
    title: str
    message: str
    status: int
    order: Order | None = None
    retry: bool = True
    reload_url: str = ""
    retry_after: int | None = None


#: Who may pay or poll through the JSON endpoints: ``(request, order_or_shop_object) -> bool``.
Permission = Callable[[HttpRequest, Model], bool]


def pay_target(data: Mapping[str, Any]) -> Model | uuid.UUID | None:
    """What the pay form (or the JSON body) names: ``object`` (a signed shop-object reference: the object, ``None``
    when it is gone) or ``order`` (a signed order reference: the id, left for the service to lock and read in one
    query). Raises :class:`InvalidPayReference` before any query when the reference is missing, forged or
    expired."""
    if OBJECT_FIELD in data:
        return adapters.load_shop_object(data.get(OBJECT_FIELD))
    return load_pay_reference(data.get(PAY_FIELD))


def refused_reference(request: HttpRequest, reason: str) -> Refusal:
    """A pay request whose reference is refused: "out of date" for a genuine but expired one (400, as for any stale
    form: the order still exists, so not 410), "not valid" for anything else (a bare id, a forgery)."""
    logger.warning("Refused a pay request: %s reference", reason)
    if reason == "expired":
        referer = request.headers.get("Referer", "")
        return Refusal(
            "expired_reference",
            _("This page is out of date"),
            _("The payment button you used is too old. Reload the page and press it again; nothing was charged."),
            400,
            reload_url=referer if referer and is_local(request, referer) else "",
        )
    message = _("This payment button is not valid. Please go back to the shop and open your order again.")
    return Refusal("invalid_reference", _("Invalid payment button"), message, 400)


def start_payment(
    request: HttpRequest, data: Mapping[str, Any], *, permission: Permission | None = None
) -> Checkout | Refusal:
    """Start (or reuse) the checkout of the order ``data`` names (the pay form's fields, or the JSON body), or say
    why not. ``permission`` is asked first, with the order or the shop object (a shop object's order is made only
    once it says yes)."""
    target: Model | uuid.UUID | None = None
    try:
        target = pay_target(data)
        if target is None:
            raise Order.DoesNotExist
        if permission is not None:
            if isinstance(target, uuid.UUID):
                target = Order.objects.get(pk=target)
            if not permission(request, target):
                logger.warning("The headless permission refused a pay request (order %s)", getattr(target, "pk", ""))
                return Refusal("forbidden", _("Not allowed"), _("You may not pay for this order."), 403)
        if not isinstance(target, (Order, uuid.UUID)):
            target = services.order_for(target)  # a shop object's description is validated here
        checkout = services.start_checkout(target, build_absolute_uri=request.build_absolute_uri)
    except InvalidPayReference as exc:
        return refused_reference(request, exc.reason)
    except Order.DoesNotExist:
        return Refusal("order_not_found", _("Order not found"), _("We could not find this order."), 404)
    except CHECKOUT_REFUSALS as exc:
        refusal = refusal_for(exc, getattr(target, "pk", target))
    else:
        return checkout
    if isinstance(target, (Order, uuid.UUID)):
        return replace(refusal, order=Order.objects.filter(pk=getattr(target, "pk", target)).first())
    return refusal


#: What starting a checkout may raise that a buyer is told about (:func:`refusal_for`).
CHECKOUT_REFUSALS = (OrderNotPayableError, ValidationError, OrkestaPayError, OperationalError)


def refusal_for(exc: Exception, order_id: object) -> Refusal:
    """The page a buyer gets when starting the checkout of the order ``order_id`` raised ``exc`` (one of
    :data:`CHECKOUT_REFUSALS`): a payment in progress, part of it paid, nothing to pay, an order that is not valid,
    too many failed attempts, OrkestaPay or the database unavailable."""
    if isinstance(exc, PaymentInProgressError):
        title = _("A payment is in progress")
        message = _(
            "A payment for this order is in progress, for example a bank transfer or a cash payment. "
            "We will confirm it as soon as it arrives; please do not pay again."
        )
        refusal = Refusal("payment_in_progress", title, message, 409, retry=False)
    elif isinstance(exc, PartiallyPaidError):  # before OrderNotPayableError, its base
        title = _("Part of this order is paid")
        message = _(
            "We received part of the payment for this order. The shop will contact you about the rest; please do "
            "not pay the full amount again."
        )
        refusal = Refusal("partially_paid", title, message, 409, retry=False)
    elif isinstance(exc, OrderNotPayableError):
        message = _("This order is already paid or can no longer be paid.")
        refusal = Refusal("nothing_to_pay", _("Nothing to pay"), message, 409)
    elif isinstance(exc, ValidationError):
        logger.exception("Order %s: not valid (amounts or text); no checkout started", order_id)
        title = _("This order cannot be paid")
        message = _("The order's amounts or details are not valid. Please contact the shop.")
        refusal = Refusal("invalid_order", title, message, 400)
    elif isinstance(exc, TooManyFailedCheckoutsError):  # before OrkestaPayError, its base: not asked again
        title = _("Too many attempts")
        message = _(
            "We could not open the payment page several times in a row. Nothing was charged; please try again "
            "in %(seconds)s seconds."
        ) % {"seconds": exc.retry_after}
        refusal = Refusal("too_many_attempts", title, message, 429, retry=False, retry_after=exc.retry_after)
    else:  # OrkestaPayError, or OperationalError: the database stayed busy (SQLite)
        if isinstance(exc, OperationalError):
            logger.warning("Pay for order %s: the database is busy; answered 503", order_id)
        title = _("Payment service unavailable")
        message = _("We could not open the payment page. Nothing was charged; please try again in a moment.")
        refusal = Refusal("service_unavailable", title, message, 503)
    return refusal


def is_local(request: HttpRequest, url: str) -> bool:
    """Whether ``url`` is on this site (Django's open-redirect guard)."""
    return url_has_allowed_host_and_scheme(url, allowed_hosts={request.get_host()}, require_https=request.is_secure())
