"""``{% load orkestapay %}``: ``{% orkestapay_button order %}`` (where the order stands and, when it can be paid, the
pay form; no amounts in it: the server knows them), ``{% orkestapay_state order as state %}`` (where it stands, for
a page's own words), ``{% orkestapay_shop_url %}`` (the way back to the shop that the app's pages offer) and the filter
``orkestapay_money`` (an amount and its currency, written the one way buyers see money: ``$1,000.00 MXN``)."""

from __future__ import annotations

import logging
from typing import Any

from django import template
from django.db.models import Model
from django.shortcuts import resolve_url
from django.urls import NoReverseMatch, reverse

from .. import adapters, conf, services
from ..models import Order

register = template.Library()
logger = logging.getLogger("django_orkestapay.templatetags")


@register.inclusion_tag("django_orkestapay/button.html", takes_context=True)
def orkestapay_button(
    context: template.Context,
    target: Model,
    label: str | None = None,
    css_class: str = "orkestapay-button",
    status_text: bool = True,
) -> dict[str, Any]:
    """Render where the order stands for its buyer and, when it can be paid, a POST form (with the CSRF token)
    that starts a checkout.

    ``target`` is an :class:`Order`, or any shop object that :mod:`django_orkestapay.adapters` can describe. The form
    carries a signed reference (valid ``PAY_LINK_MAX_AGE`` seconds), never a bare id; for a shop object the order
    is made when the buyer clicks. No form while a payment is in progress (a transfer on its way: what to do is
    shown instead), once part of the total arrived, or once the order is paid; a declined, canceled or expired
    payment is said, with a *Try again* button. ``status_text=False`` leaves out what the order's state says
    (a page that says it itself).
    """
    order = target if isinstance(target, Order) else services.paid_order_for(target)
    ((field_name, field_value),) = adapters.pay_fields(target).items()
    return {
        "state": services.payment_state(order),
        "order": order,
        "action": reverse("orkestapay:pay"),
        "field_name": field_name,
        "field_value": field_value,
        "label": label,
        "css_class": css_class,
        "status_text": status_text,
        "csrf_token": context.get("csrf_token"),
    }


@register.simple_tag
def orkestapay_state(order: Order | None) -> services.PaymentState:
    """``{% orkestapay_state order as state %}``: where the order stands for its buyer
    (:func:`~django_orkestapay.services.payment_state`): ``state.kind`` (``payable``, ``in_progress``,
    ``partially_paid``, ``declined``, ``canceled``, ``expired``, ``paid``, ``partly_refunded``, ``refunded``),
    ``state.payable``, ``state.instructions``, for a page's own heading."""
    return services.payment_state(order)


@register.filter
def orkestapay_money(amount: Any, currency: str = "") -> str:
    """``{{ order.total_amount|orkestapay_money:order.currency }}``: :func:`~django_orkestapay.services.format_money`
    (``$1,000.00 MXN`` in English and Mexican Spanish, ``$1 000,00 MXN`` in Spain's Spanish). A value that is not an
    amount is shown as it is."""
    try:
        return services.format_money(amount, currency)
    except (ArithmeticError, TypeError, ValueError):
        return f"{amount} {currency}".strip()


@register.simple_tag
def orkestapay_shop_url() -> str:
    """The ``SHOP_URL`` setting as a URL (a URL pattern name is reversed); ``/`` when it does not reverse (system
    check ``orkestapay.E008`` reports that), so an error page never fails in turn."""
    try:
        return resolve_url(conf.get("SHOP_URL") or "/")
    except NoReverseMatch:
        logger.error("ORKESTAPAY['SHOP_URL'] does not reverse; linking to / instead")
        return "/"
