"""Database queries per request (data statements only: BEGIN/COMMIT/SAVEPOINT/RELEASE/ROLLBACK left out, since
they differ between SQLite and PostgreSQL). Deterministic, so also asserted in ``tests/test_query_counts.py``."""

from __future__ import annotations

import json
import time
import uuid
from collections.abc import Callable
from typing import Any
from urllib.parse import urlsplit

from django_orkestapay.testing import FakeOrkestaPay

from .common import gateway_checkout_id, make_order, pay_form

CONTROL = ("BEGIN", "COMMIT", "ROLLBACK", "SAVEPOINT", "RELEASE")


def data_queries(captured: list[dict[str, str]]) -> int:
    """How many captured statements touch data."""
    return sum(1 for query in captured if not query["sql"].upper().startswith(CONTROL))


def count_queries(call: Callable[[], Any]) -> tuple[int, Any]:
    """Run ``call`` and return (data queries, its result)."""
    from django.db import connection
    from django.test.utils import CaptureQueriesContext

    with CaptureQueriesContext(connection) as context:
        result = call()
    return data_queries(context.captured_queries), result


def local(url: str) -> str:
    """Path and query of an absolute URL, for the test client."""
    parts = urlsplit(url)
    return f"{parts.path}?{parts.query}"


def payment_event(order_id: str, merchant_order_id: str, payment_id: str) -> bytes:
    """A ``payment.purchase`` body in the current envelope."""
    payment = {
        "payment_id": payment_id,
        "order_id": order_id,
        "merchant_order_id": merchant_order_id,
        "status": "COMPLETED",
        "amount": {"captured": 990, "currency": "MXN"},
    }
    return json.dumps({"data": {"payment": payment}, "type": "payment", "type_event": "payment.purchase"}).encode()


def signed_headers(secret: str, message_id: str, body: bytes) -> dict[str, str]:
    """Svix headers for ``body``."""
    from django_orkestapay.webhook_verification import sign_payload

    timestamp = int(time.time())
    return {
        "svix-id": message_id,
        "svix-timestamp": str(timestamp),
        "svix-signature": sign_payload(secret, message_id, timestamp, body),
    }


def measure(fake: FakeOrkestaPay, webhook_secret: str) -> list[tuple[str, int, int]]:
    """(request, data queries, HTTP status) for each request kind, on an empty database."""
    from django.contrib.auth import get_user_model
    from django.db import transaction
    from django.test import Client
    from django.urls import reverse

    from django_orkestapay.models import Checkout

    fake.latency = 0.0
    client = Client()
    results: list[tuple[str, int, int]] = []

    def record(label: str, call: Callable[[], Any]) -> Any:
        queries, response = count_queries(call)
        results.append((label, queries, response.status_code))
        return response

    pay_url = reverse("orkestapay:pay")
    paid_order = make_order()
    record("pay (new checkout)", lambda: client.post(pay_url, pay_form(paid_order.pk)))
    record("pay (open checkout reused)", lambda: client.post(pay_url, pay_form(paid_order.pk)))
    paid_checkout = Checkout.objects.get(order=paid_order)
    completed_url = fake.pay(gateway_checkout_id(paid_checkout))
    record("completed return (paid)", lambda: client.get(local(completed_url)))

    canceled_order = make_order()
    client.post(pay_url, pay_form(canceled_order.pk))
    canceled_url = fake.cancel(gateway_checkout_id(Checkout.objects.get(order=canceled_order)))
    record("canceled return", lambda: client.get(local(canceled_url)))

    hook_order = make_order()
    client.post(pay_url, pay_form(hook_order.pk))
    hook_checkout = Checkout.objects.get(order=hook_order)
    fake.pay(gateway_checkout_id(hook_checkout))
    body = payment_event(hook_checkout.orkestapay_order_id, hook_checkout.merchant_reference, "pay_bench")
    message_id = f"msg_{uuid.uuid4().hex}"
    webhook_url = reverse("orkestapay:webhook")

    def deliver() -> Any:
        headers = signed_headers(webhook_secret, message_id, body)
        return client.post(webhook_url, data=body, content_type="application/json", headers=headers)

    record("webhook (processed)", deliver)
    record("webhook (duplicate delivery)", deliver)

    admin = get_user_model().objects.create_superuser("bench-admin", "bench@example.com", "bench-only")
    staff = Client()
    staff.force_login(admin)
    changelist = reverse("admin:orkestapay_order_changelist")
    with transaction.atomic():
        for index in range(10 - 3):  # three orders exist already
            make_order(index)
    staff.get(changelist)  # the first request of a session fills caches (content types, permissions)
    record("admin order changelist, 10 orders", lambda: staff.get(changelist))
    with transaction.atomic():
        for index in range(1000 - 10):
            make_order(index)
    record("admin order changelist, 1,000 orders", lambda: staff.get(changelist))
    return results
