"""``{% load orkestapay %}{% orkestapay_button order %}``: the pay form. No amounts in the form: the server
knows them."""

from __future__ import annotations

from typing import Any

from django import template
from django.db.models import Model
from django.utils.translation import gettext as _

from .. import adapters, services
from ..models import Order

register = template.Library()


@register.inclusion_tag("django_orkestapay/button.html", takes_context=True)
def orkestapay_button(
    context: template.Context, target: Model, label: str | None = None, css_class: str = "orkestapay-button"
) -> dict[str, Any]:
    """Render a POST form (with the CSRF token) that starts a checkout.

    ``target`` is an :class:`Order`, or any shop object that :mod:`django_orkestapay.adapters` can describe; for a
    shop object the form carries a signed reference and the order is made when the buyer clicks.
    """
    if isinstance(target, Order):
        order: Order | None = target
        field_name, field_value = "order", str(target.pk)
    else:
        order = services.paid_order_for(target)
        field_name, field_value = "object", adapters.sign_shop_object(target)
    return {
        "order": order,
        "field_name": field_name,
        "field_value": field_value,
        "label": label or _("Pay with OrkestaPay"),
        "css_class": css_class,
        "csrf_token": context.get("csrf_token"),
        "payable": order is None or order.is_payable,
        "paid": order is not None and order.is_paid,
    }
