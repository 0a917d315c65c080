"""``{% load orkestapay %}``: ``{% orkestapay_button order %}`` (the pay form; no amounts in it: the server knows
them), ``{% orkestapay_shop_url %}`` (the way back to the shop that the app's pages offer) and the filter
``orkestapay_money`` (an amount and its currency, written the active language's way)."""

from __future__ import annotations

import logging
from typing import Any

from django import template
from django.db.models import Model
from django.shortcuts import resolve_url
from django.urls import NoReverseMatch
from django.utils.translation import gettext as _

from .. import adapters, conf, services
from ..models import Order, OrderStatus

register = template.Library()
logger = logging.getLogger("django_orkestapay.templatetags")


@register.inclusion_tag("django_orkestapay/button.html", takes_context=True)
def orkestapay_button(
    context: template.Context, target: Model, label: str | None = None, css_class: str = "orkestapay-button"
) -> dict[str, Any]:
    """Render a POST form (with the CSRF token) that starts a checkout.

    ``target`` is an :class:`Order`, or any shop object that :mod:`django_orkestapay.adapters` can describe. The form
    carries a signed reference (valid ``PAY_LINK_MAX_AGE`` seconds), never a bare id; for a shop object the order
    is made when the buyer clicks.
    """
    order = target if isinstance(target, Order) else services.paid_order_for(target)
    ((field_name, field_value),) = adapters.pay_fields(target).items()
    return {
        "order": order,
        "field_name": field_name,
        "field_value": field_value,
        "label": label or _("Pay with OrkestaPay"),
        "css_class": css_class,
        "csrf_token": context.get("csrf_token"),
        "payable": order is None or order.is_payable,
        "paid": order is not None and order.is_paid,
        "refunded": order is not None and order.status == OrderStatus.REFUNDED,
        "partly_refunded": order is not None and order.status == OrderStatus.PARTIALLY_REFUNDED,
    }


@register.filter
def orkestapay_money(amount: Any, currency: str = "") -> str:
    """``{{ order.total_amount|orkestapay_money:order.currency }}``: the amount with the currency's decimal places,
    grouped and separated as the active language writes numbers (``1,000.00 MXN`` in English and Mexican Spanish,
    ``1 000,00 MXN`` in Spain's Spanish), then the currency code. A value that is not an amount is shown as it is."""
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
