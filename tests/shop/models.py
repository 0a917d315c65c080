"""A tiny shop model, for linking orders to shop objects in tests."""

from decimal import Decimal

from django.db import models

from django_orkestapay.adapters import PaymentDescription


class Cart(models.Model):
    reference = models.CharField(max_length=32)

    def __str__(self) -> str:
        return self.reference

    def orkestapay_payment(self) -> PaymentDescription:
        """The cart describes its own payment (the ``Payable`` protocol)."""
        return PaymentDescription(
            items=[{"product_id": "mug", "name": "Taza", "quantity": 2, "unit_price": Decimal("249.50")}],
            customer={"first_name": "Ana", "last_name": "López", "email": "ana@example.mx"},
            shipping_amount=Decimal("99.00"),
            merchant_order_id=f"CART-{self.reference}",
            success_url=f"/shop/carts/{self.pk}/thanks/",
            cancel_url=f"/shop/carts/{self.pk}/",
        )
