"""``{% load orkestapay %}{% orkestapay_button order %}``: the pay form. No amounts in the form: the server
knows them."""

from __future__ import annotations

from typing import Any

from django import template
from django.utils.translation import gettext as _

from ..models import Order

register = template.Library()


@register.inclusion_tag("django_orkestapay/button.html", takes_context=True)
def orkestapay_button(
    context: template.Context, order: Order, label: str | None = None, css_class: str = "orkestapay-button"
) -> dict[str, Any]:
    """Render a POST form (with the CSRF token) that starts the order's checkout."""
    return {
        "order": order,
        "label": label or _("Pay with OrkestaPay"),
        "css_class": css_class,
        "csrf_token": context.get("csrf_token"),
        "payable": order.is_payable,
    }
