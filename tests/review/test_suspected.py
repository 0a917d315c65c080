"""Issue 19, item 12: what the review suspected but had not confirmed, each confirmed (and fixed) or ruled out here.
The charged-back payment is in tests/review/test_refund_money.py and the probe's short secrets in
tests/probe/test_redaction.py."""

from __future__ import annotations

from typing import Any

import pytest
from django.test import Client

from django_orkestapay import services
from django_orkestapay.models import Checkout, CheckoutStatus, Order, OrderStatus, PaymentStatus
from tests.conftest import make_order
from tests.ledger_helpers import come_back, start
from tests.review.helpers import deliver

pytestmark = pytest.mark.django_db


def test_money_on_an_attempt_older_than_the_ten_newest_is_found_by_the_sync(
    client: Client, orkestapay_settings: dict[str, Any], fake_orkestapay: Any
) -> None:
    """Confirmed, and fixed: ``sync_order`` read only the ten newest attempts, so a payment on the eleventh newest,
    its webhook and return both lost, was never recorded. It now reads every attempt of an unpaid order (up to
    ``MAX_ATTEMPTS_READ``, 50)."""
    fake_orkestapay.cancel_marks_order_canceled = False  # OrkestaPay keeps a canceled tab payable
    order = make_order()
    attempts = []
    for _ in range(11):
        attempt = start(Order.objects.get(pk=order.pk))
        come_back(client, fake_orkestapay.cancel(attempt.orkestapay_checkout_id))
        attempts.append(attempt)
    assert Checkout.objects.filter(order=order, status=CheckoutStatus.CANCELED).count() == 11

    fake_orkestapay.pay(attempts[0].orkestapay_checkout_id)  # the oldest tab; its webhook and return are lost
    services.sync_order(Order.objects.get(pk=order.pk))

    order.refresh_from_db()
    assert order.status == OrderStatus.PAID
    assert order.payments.get(status=PaymentStatus.COMPLETED).checkout_id == attempts[0].pk


def test_a_webhook_matched_only_by_a_reference_two_orders_share_reads_both(
    webhooks: None, orkestapay_settings: dict[str, Any], fake_orkestapay: Any
) -> None:
    """Confirmed, and fixed: a webhook without an order or payment id was matched by our reference to the newest
    checkout holding it; where two orders' attempts share one (old references could collide), the money may be on
    the other. Every attempt holding the reference is read now, and OrkestaPay's answer places the money. (New
    references cannot collide: tests/review/test_shop_object_money.py.)"""
    first, second = make_order(), make_order()
    paid_one, other = start(first), start(second)
    Checkout.objects.filter(pk__in=[paid_one.pk, other.pk]).update(merchant_reference="CART-7-2")
    for attempt in (paid_one, other):  # as both were sent
        fake_orkestapay.tamper_order(attempt.orkestapay_order_id, merchant_order_id="CART-7-2")
    fake_orkestapay.pay(paid_one.orkestapay_checkout_id)  # the older attempt is the one paid

    response = deliver({"merchant_order_id": "CART-7-2", "status": "COMPLETED"})

    assert response.json() == {"status": "processed"}
    first.refresh_from_db()
    second.refresh_from_db()
    assert (first.status, second.status) == (OrderStatus.PAID, OrderStatus.PENDING)
    assert first.payments.get().status == PaymentStatus.COMPLETED
    assert not second.payments.exists()
