"""A payment adapter named in settings: describes a Cart without the Cart's help."""

from decimal import Decimal

from django.db import models

from django_orkestapay.adapters import PaymentDescription


def describe_cart(shop_object: models.Model) -> PaymentDescription:
    return PaymentDescription(
        items=[{"name": f"Pedido {shop_object}", "quantity": 1, "unit_price": Decimal("500.00")}],
        customer={"first_name": "Luis", "last_name": "Pérez", "email": "luis@example.mx"},
        currency="USD",
    )


not_callable = "just a string"
