"""Callables named in settings: a payment adapter that describes a Cart without the Cart's help, and a pay
permission hook."""

from decimal import Decimal

from django.db import models
from django.http import HttpRequest

from django_orkestapay.adapters import PaymentDescription
from django_orkestapay.models import Order


def describe_cart(shop_object: models.Model) -> PaymentDescription:
    return PaymentDescription(
        items=[{"name": f"Pedido {shop_object}", "quantity": 1, "unit_price": Decimal("500.00")}],
        customer={"first_name": "Luis", "last_name": "Pérez", "email": "luis@example.mx"},
        currency="USD",
    )


not_callable = "just a string"


def allow_staff_or_owner(request: HttpRequest, target: models.Model) -> bool:
    """A pay permission (``PAY_PERMISSION``): staff, or the buyer whose cookie names the order's email
    (a stand-in for the shop's own login)."""
    if getattr(request.user, "is_staff", False):
        return True
    return isinstance(target, Order) and request.COOKIES.get("shop_owner") == target.customer_email
