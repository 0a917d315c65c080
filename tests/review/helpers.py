"""Helpers of the review tests: an order paid on the fake but not yet read."""

from __future__ import annotations

from typing import Any

from django_orkestapay.models import Checkout, Order
from tests.conftest import make_order, payment_ids_at
from tests.ledger_helpers import start


def paid_at_orkestapay(fake: Any) -> tuple[Order, Checkout, str]:
    """An order whose checkout the buyer paid on the fake (no webhook, not read yet): the order, its attempt and
    OrkestaPay's payment id."""
    order = make_order()
    checkout = start(order)
    fake.pay(checkout.orkestapay_checkout_id)
    return order, checkout, payment_ids_at(fake, checkout.orkestapay_order_id)[-1]
