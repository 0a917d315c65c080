"""The payment ledger against the fake gateway over real HTTP: one row per OrkestaPay payment from every read and
webhook, never moved, never downgraded; refunds made outside the shop mirrored once; our pending refunds settled
from the payment's transactions; a paid order whose payment the API does not list; webhooks about closed attempts."""

from __future__ import annotations

import dataclasses
import json
import time
import uuid
from decimal import Decimal
from typing import Any

import pytest
from django.db import connection, transaction
from django.test import Client
from django.test.utils import CaptureQueriesContext
from django.urls import reverse

from django_orkestapay import services
from django_orkestapay.client import OrkestaPayClient, RemotePayment
from django_orkestapay.models import (
    CheckoutStatus,
    Order,
    OrderStatus,
    Payment,
    PaymentStatus,
    Refund,
    RefundOrigin,
    RefundStatus,
    ReviewCode,
)
from django_orkestapay.webhook_verification import sign_payload
from tests.conftest import make_order, make_paid_order, payment_ids_at
from tests.ledger_helpers import signal_log, start
from tests.test_views import data_queries

pytestmark = pytest.mark.django_db(transaction=True)

SECRET = "whsec_" + "bGVkZ2VyLXRlc3RzLW9ubHkta2V5LTEyMzQ1"


def remote_payment(payment_id: str, status: str, **fields: Any) -> RemotePayment:
    values: dict[str, Any] = {
        "order_id": None,
        "amount": Decimal("990"),
        "refunded": None,
        "currency": "MXN",
        "method_type": "CARD",
        "transactions": (),
        "raw": {"payment_id": payment_id, "status": status},
    }
    values.update(fields)
    return RemotePayment(payment_id=payment_id, status=status, **values)


def record(order: Order, payment: RemotePayment) -> Payment | None:
    with transaction.atomic():
        locked = Order.objects.select_for_update().get(pk=order.pk)
        row = services.record_payment(locked, payment)
        locked.save()
    return row


# --- record_payment ---------------------------------------------------------------------------------------------


def test_a_completed_payment_is_never_downgraded_and_refunded_only_grows():
    order = make_order()
    record(order, remote_payment("pay_1", "COMPLETED", refunded=Decimal("100")))
    row = record(order, remote_payment("pay_1", "PAYMENT_ACTION_REQUIRED", amount=Decimal("1"), refunded=Decimal("50")))
    assert row is not None
    row.refresh_from_db()
    assert (row.status, row.remote_status, row.amount, row.refunded_amount) == (
        PaymentStatus.COMPLETED,
        "COMPLETED",
        Decimal("990.00"),
        Decimal("100.00"),
    )
    record(order, remote_payment("pay_1", "PARTIALLY_REFUNDED", refunded=Decimal("300")))
    row.refresh_from_db()
    assert (row.status, row.remote_status, row.refunded_amount) == (
        PaymentStatus.COMPLETED,
        "PARTIALLY_REFUNDED",
        Decimal("300.00"),
    )


def test_a_failed_payment_never_goes_back_to_pending_but_may_still_complete():
    order = make_order()
    record(order, remote_payment("pay_1", "REJECTED"))
    assert record(order, remote_payment("pay_1", "PROCESSING")).status == PaymentStatus.FAILED  # type: ignore[union-attr]
    assert record(order, remote_payment("pay_1", "COMPLETED")).status == PaymentStatus.COMPLETED  # type: ignore[union-attr]


def test_a_payment_is_never_moved_to_another_order():
    mine, other = make_order(merchant_order_id="MINE"), make_order(merchant_order_id="OTHER")
    record(mine, remote_payment("pay_1", "COMPLETED"))

    assert record(other, remote_payment("pay_1", "COMPLETED")) is None

    assert Payment.objects.get().order_id == mine.pk
    other.refresh_from_db()
    assert (other.needs_review, other.review_code) == (True, ReviewCode.MALFORMED_ANSWER)
    assert "belongs to another order" in other.review_reason


def test_an_unchanged_answer_writes_nothing():
    order = make_order()
    record(order, remote_payment("pay_1", "COMPLETED"))
    with CaptureQueriesContext(connection) as captured:
        record(order, remote_payment("pay_1", "COMPLETED"))
    statements = data_queries(captured.captured_queries)
    assert [sql.split()[0] for sql in statements] == ["SELECT", "SELECT", "UPDATE"], statements
    assert "orkestapay_order" in statements[2]  # the test's own save of the order; the payment is not written


# --- refunds OrkestaPay reports -------------------------------------------------------------------------------


# mirrored from the payment's refunded amount, which only the rich profile shows
@pytest.mark.orkestapay_profile("rich")
def test_a_refund_made_outside_the_shop_is_mirrored_once(orkestapay_settings, fake_orkestapay):
    order = make_paid_order(fake_orkestapay)
    # a refund of 300 in OrkestaPay's portal: the shop did not send it
    services.get_client().refund_payment(
        order.orkestapay_payment_id, amount=Decimal("300"), description="portal", idempotency_key="portal-300"
    )
    services.sync_order(order)
    services.sync_order(order)

    order.refresh_from_db()
    assert order.status == OrderStatus.PARTIALLY_REFUNDED
    [mirrored] = order.refunds.all()
    assert (mirrored.origin, mirrored.status, mirrored.amount, mirrored.requested_by) == (
        RefundOrigin.ORKESTAPAY,
        RefundStatus.SUCCEEDED,
        Decimal("300.00"),
        "OrkestaPay",
    )
    assert mirrored.payment.orkestapay_payment_id == order.orkestapay_payment_id
    assert mirrored.idempotency_key == f"mirror:{order.orkestapay_payment_id}:300.00"
    assert order.payments.get().refunded_amount == Decimal("300.00")


# the refund is read from the payment's refunded amount, which only the rich profile shows
@pytest.mark.orkestapay_profile("rich")
def test_a_payment_read_on_its_own_is_applied_to_its_order(orkestapay_settings, fake_orkestapay):
    order = make_paid_order(fake_orkestapay)
    client = services.get_client()
    client.refund_payment(order.orkestapay_payment_id, amount=Decimal("990"), description="x", idempotency_key="k")

    result = services.apply_payment_read(client.get_remote_payment(order.orkestapay_payment_id))

    assert result is not None
    assert (result.changed, result.order.status) == (True, OrderStatus.REFUNDED)
    assert order.refunds.get().origin == RefundOrigin.ORKESTAPAY
    unknown = dataclasses.replace(client.get_remote_payment(order.orkestapay_payment_id), payment_id="pay_not_ours")
    assert services.apply_payment_read(unknown) is None
    assert Payment.objects.count() == 1


# settled from the payment's REFUND transactions, which only the rich profile shows
@pytest.mark.orkestapay_profile("rich")
def test_refunds_of_ours_in_flight_are_not_mirrored_and_a_pending_one_is_settled(orkestapay_settings, fake_orkestapay):
    order = make_paid_order(fake_orkestapay)
    payment = order.payments.get()
    # our refund reached OrkestaPay (which refunded it) but we only know it is pending, by its transaction id
    answer = services.get_client().refund_payment(
        payment.orkestapay_payment_id, amount=Decimal("990"), description="ours", idempotency_key="ours-1"
    )
    Refund.objects.create(
        order=order,
        payment=payment,
        orkestapay_payment_id=payment.orkestapay_payment_id,
        amount=Decimal("990"),
        idempotency_key="ours-1",
        status=RefundStatus.PENDING,
        transaction_id=answer.transaction_id or "",
    )

    services.sync_order(order)

    order.refresh_from_db()
    [refund] = order.refunds.all()  # settled, and not mirrored a second time
    assert (refund.status, refund.remote_status, refund.origin) == (
        RefundStatus.SUCCEEDED,
        "SUCCESS",
        RefundOrigin.SHOP,
    )
    assert order.status == OrderStatus.REFUNDED


# --- what the API does not list -------------------------------------------------------------------------------


# the order read names its payment_id only in the rich profile (the evidence one: see the placeholder test below)
@pytest.mark.orkestapay_profile("rich")
def test_a_paid_order_whose_payment_the_api_does_not_list_is_paid_under_its_payment_id(
    orkestapay_settings, fake_orkestapay, monkeypatch
):
    order = make_order()
    checkout = start(order)
    fake_orkestapay.pay(checkout.orkestapay_checkout_id)
    monkeypatch.setattr(OrkestaPayClient, "read_order_payments", lambda self, order_id: ([], []))  # a list that lags

    services.sync_order(order)

    order.refresh_from_db()
    payment = order.payments.get()
    assert order.status == OrderStatus.PAID
    assert (payment.orkestapay_payment_id, payment.status, payment.amount) == (
        payment_ids_at(fake_orkestapay, checkout.orkestapay_order_id)[-1],
        PaymentStatus.COMPLETED,
        Decimal("990.00"),
    )


def test_a_paid_order_naming_no_payment_at_all_is_paid_under_a_placeholder(
    orkestapay_settings, fake_orkestapay, monkeypatch
):
    order = make_order()
    checkout = start(order)
    fake_orkestapay.pay(checkout.orkestapay_checkout_id)
    real_get_order = OrkestaPayClient.get_order

    def bare_order(self: OrkestaPayClient, order_id: str) -> Any:
        remote = real_get_order(self, order_id)
        raw = {key: value for key, value in remote.raw.items() if key not in ("payments", "payment_id")}
        return dataclasses.replace(remote, payments=(), payment_ids=(), raw=raw)

    monkeypatch.setattr(OrkestaPayClient, "get_order", bare_order)
    monkeypatch.setattr(OrkestaPayClient, "read_order_payments", lambda self, order_id: ([], []))

    services.sync_order(order)

    order.refresh_from_db()
    assert order.status == OrderStatus.PAID
    assert order.payments.get().orkestapay_payment_id == f"{checkout.orkestapay_order_id}:completed"


# --- webhooks -----------------------------------------------------------------------------------------------------


def deliver(payment: dict[str, Any], event_type: str = "payment.purchase") -> Any:
    body = json.dumps({"data": {"payment": payment}, "type_event": event_type, "version": 1}).encode()
    message_id, timestamp = f"msg_{uuid.uuid4().hex}", int(time.time())
    headers = {
        "svix-id": message_id,
        "svix-timestamp": str(timestamp),
        "svix-signature": sign_payload(SECRET, message_id, timestamp, body),
    }
    return Client(enforce_csrf_checks=True).post(
        reverse("orkestapay:webhook"), data=body, content_type="application/json", headers=headers
    )


def test_a_webhook_about_an_attempt_closed_here_lands_once(settings, orkestapay_settings, fake_orkestapay):
    settings.ORKESTAPAY = {**orkestapay_settings, "WEBHOOK_SECRETS": [SECRET]}
    fake_orkestapay.cancel_marks_order_canceled = False
    order = make_order()
    checkout = start(order)
    services.sync_checkout(checkout, canceled_by_buyer=True)
    assert Order.objects.get(pk=order.pk).status == OrderStatus.CANCELED
    payment_id = fake_orkestapay.pay(checkout.orkestapay_checkout_id).split("payment_id=")[1].split("&")[0]
    payment = fake_orkestapay.get_payment(payment_id)

    with signal_log() as log:
        assert deliver(payment).json() == {"status": "processed"}
        assert deliver(payment, "payment.capture").json() == {"status": "processed"}  # another event, same payment

    order.refresh_from_db()
    assert order.status == OrderStatus.PAID
    assert order.checkouts.get().status == CheckoutStatus.COMPLETED
    assert order.payments.get(orkestapay_payment_id=payment_id).status == PaymentStatus.COMPLETED
    assert log.names(order) == ["order_status_changed", "order_paid"]
