"""Helpers of the review tests: an order paid on the fake but not yet read, an order with two open attempts,
OrkestaPay's signed webhook deliveries (the ``webhooks`` fixture, in conftest, sets their secret)."""

from __future__ import annotations

import json
import time
import uuid
from datetime import timedelta
from typing import Any

from django.test import Client
from django.urls import reverse
from django.utils import timezone

from django_orkestapay.models import Checkout, Order
from django_orkestapay.webhook_verification import sign_payload
from tests.conftest import make_order, payment_ids_at
from tests.ledger_helpers import start


def paid_at_orkestapay(fake: Any) -> tuple[Order, Checkout, str]:
    """An order whose checkout the buyer paid on the fake (no webhook, not read yet): the order, its attempt and
    OrkestaPay's payment id."""
    order = make_order()
    checkout = start(order)
    fake.pay(checkout.orkestapay_checkout_id)
    return order, checkout, payment_ids_at(fake, checkout.orkestapay_order_id)[-1]


def older_and_newer(order: Order) -> tuple[Checkout, Checkout]:
    """Two attempts of ``order``: the first near its end (so the pay button starts another), both open."""
    older = start(order)
    Checkout.objects.filter(pk=older.pk).update(expires_at=timezone.now() + timedelta(seconds=60))
    newer = start(order)
    assert newer.pk != older.pk
    return older, newer


#: The webhook secret of the review tests (the ``webhooks`` fixture).
SECRET = "whsec_" + "bW9uZXktZXZlbnRzLXRlc3RzLW9ubHktMTIz"


def deliver(payment: dict[str, Any], event_type: str = "payment.purchase", *, message_id: str = "") -> Any:
    """OrkestaPay's signed delivery of ``event_type`` about ``payment``; ``message_id`` repeats a delivery."""
    body = json.dumps({"data": {"payment": payment}, "type_event": event_type, "version": 1}).encode()
    message_id, timestamp = message_id or f"msg_{uuid.uuid4().hex}", int(time.time())
    headers = {
        "svix-id": message_id,
        "svix-timestamp": str(timestamp),
        "svix-signature": sign_payload(SECRET, message_id, timestamp, body),
    }
    return Client(enforce_csrf_checks=True).post(
        reverse("orkestapay:webhook"), data=body, content_type="application/json", headers=headers
    )


def payment_id_of(completed_url: str) -> str:
    """OrkestaPay's payment id in a completed return URL the fake redirected to."""
    return completed_url.split("payment_id=")[1].split("&")[0]
