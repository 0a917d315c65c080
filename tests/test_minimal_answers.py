"""Answers as thin as OrkestaPay's public record shows them: a payments list of ids, an order without its totals, a
payment without its amount. The flow must confirm what can be confirmed, never count what cannot, and never keep a
buyer or a webhook waiting on an answer no retry can improve (issue 18).

The fake gateway's answers are thinned here by wrapping the client's reads (``answers`` fixture), so each test says
exactly which fields the API leaves out.
"""

from __future__ import annotations

import dataclasses
import json
import time
import uuid
from collections.abc import Callable, Iterator
from decimal import Decimal
from typing import Any

import pytest
from django.test import Client
from django.urls import reverse
from django.utils import timezone

from django_orkestapay import services
from django_orkestapay.client import OrkestaPayClient, RemoteOrder, RemotePayment
from django_orkestapay.exceptions import PaymentInProgressError
from django_orkestapay.models import (
    Checkout,
    CheckoutStatus,
    Event,
    EventStatus,
    Order,
    OrderStatus,
    Payment,
    PaymentOrigin,
    PaymentStatus,
    ReviewCode,
)
from django_orkestapay.webhook_verification import sign_payload
from tests.conftest import make_order, payment_ids_at, return_read_interval_passed
from tests.ledger_helpers import SignalLog, come_back, signal_log, start

pytestmark = pytest.mark.django_db(transaction=True)  # signals are sent on commit
SECRET = "whsec_" + "bWluaW1hbC1hbnN3ZXJzLXNlY3JldC0xMjM0NQ=="


@pytest.fixture(name="signal_log")
def signal_log_fixture() -> Iterator[SignalLog]:
    with signal_log() as log:
        yield log


class Answers:
    """How thin the API's answers are: each switch leaves a field out of what the client reads."""

    def __init__(self) -> None:
        self.list_ids_only = True  # GET /v1/orders/{id}/payments: content[].payment_id and order_id only
        self.order_totals = True  # GET /v1/orders/{id} carries total_amount and currency
        self.payment_amounts = True  # GET /v1/payments/{id} carries amount
        self.order_status: str | None = None  # overrides the order's status when set

    def order(self, remote: RemoteOrder) -> RemoteOrder:
        thinned = dataclasses.replace(remote, payments=(), payment_ids=())
        if not self.order_totals:
            thinned = dataclasses.replace(thinned, total_amount=None, subtotal_amount=None, currency=None)
        if self.order_status:
            thinned = dataclasses.replace(thinned, status=self.order_status)
        return thinned

    def listed(self, payment: RemotePayment) -> RemotePayment:
        if not self.list_ids_only:
            return payment
        return RemotePayment(
            payment_id=payment.payment_id,
            order_id=payment.order_id,
            status="",
            amount=None,
            refunded=None,
            currency=None,
            method_type=None,
            transactions=(),
            raw={"payment_id": payment.payment_id, "order_id": payment.order_id},
            partial=True,
        )

    def detail(self, payment: RemotePayment) -> RemotePayment:
        if self.payment_amounts:
            return payment
        raw = {key: value for key, value in payment.raw.items() if key != "amount"}
        return dataclasses.replace(payment, amount=None, refunded=None, currency=None, partial=True, raw=raw)


@pytest.fixture
def answers(monkeypatch: pytest.MonkeyPatch, orkestapay_settings: dict[str, Any]) -> Answers:
    thin = Answers()
    get_order, read_payments = OrkestaPayClient.get_order, OrkestaPayClient.read_order_payments
    get_payment = OrkestaPayClient.get_remote_payment

    def wrapped(method: Callable[..., Any], shape: Callable[[Any], Any]) -> Callable[..., Any]:
        return lambda self, key: shape(method(self, key))

    monkeypatch.setattr(OrkestaPayClient, "get_order", wrapped(get_order, thin.order))
    monkeypatch.setattr(
        OrkestaPayClient,
        "read_order_payments",
        wrapped(read_payments, lambda found: ([thin.listed(p) for p in found[0]], found[1])),
    )
    monkeypatch.setattr(OrkestaPayClient, "get_remote_payment", wrapped(get_payment, thin.detail))
    return thin


def paid(fake: Any) -> tuple[Order, Checkout, str]:
    order = make_order()
    checkout = start(order)
    completed_url = fake.pay(checkout.orkestapay_checkout_id)
    return order, checkout, completed_url


def test_a_list_of_ids_is_read_through_each_payment_and_pays_the_order(
    client: Client, answers: Answers, fake_orkestapay: Any, signal_log: Any
) -> None:
    order, _checkout, completed_url = paid(fake_orkestapay)

    response = come_back(client, completed_url)

    assert response.status_code == 200
    order.refresh_from_db()
    assert (order.status, order.needs_review) == (OrderStatus.PAID, False)
    payment = order.payments.get()
    assert (payment.status, payment.amount, payment.origin) == (PaymentStatus.COMPLETED, Decimal(990), "api")
    assert signal_log.names(order).count("order_paid") == 1
    # one round trip: the return's payment_id was read with the order and its list, not after them
    assert fake_orkestapay.count_requests("GET", prefix="/v1/payments/") == 1


def test_a_payment_without_its_amount_takes_the_total_of_the_order_that_vouches_for_it(
    client: Client, answers: Answers, fake_orkestapay: Any
) -> None:
    answers.payment_amounts = False
    order, _checkout, completed_url = paid(fake_orkestapay)

    come_back(client, completed_url)

    order.refresh_from_db()
    assert (order.status, order.needs_review) == (OrderStatus.PAID, False)
    payment = order.payments.get()
    assert (payment.status, payment.amount, payment.currency) == ("completed", Decimal(990), "MXN")
    assert payment.origin == PaymentOrigin.ORDER_TOTAL  # marked so in the ledger, and refundable
    assert services.refundable_amount_of(payment) == 990

    answers.payment_amounts = True  # a later answer says the payment's own amount: it is OrkestaPay's word now
    services.sync_order(order)
    payment.refresh_from_db()
    assert (payment.origin, payment.amount) == ("api", Decimal(990))


def test_money_nobody_confirms_is_held_flagged_and_blocks_a_second_checkout(
    client: Client, answers: Answers, fake_orkestapay: Any, signal_log: Any
) -> None:
    """Neither the payment nor the order says an amount: nothing is marked paid, the order waits, a person is
    told, the buyer cannot pay again meanwhile, and the sync's next complete answer settles it."""
    answers.payment_amounts = answers.order_totals = False
    order, checkout, completed_url = paid(fake_orkestapay)

    response = come_back(client, completed_url)

    assert response.status_code == 200  # the pending page, which re-checks; never a 5xx
    order.refresh_from_db()
    assert (order.status, order.needs_review, order.review_code) == (
        OrderStatus.PENDING,
        True,
        ReviewCode.MALFORMED_ANSWER,
    )
    assert "completed without an amount we can use" in order.review_reason
    payment = order.payments.get()
    assert (payment.status, payment.remote_status) == (PaymentStatus.PENDING, "COMPLETED")
    assert Checkout.objects.get(pk=checkout.pk).status == CheckoutStatus.PENDING
    with pytest.raises(PaymentInProgressError):
        start(Order.objects.get(pk=order.pk))
    assert "order_paid" not in signal_log.names(order)

    answers.payment_amounts = True
    services.sync_order(Order.objects.get(pk=order.pk))

    order.refresh_from_db()
    assert order.status == OrderStatus.PAID
    assert signal_log.names(order).count("order_paid") == 1


def test_an_order_paid_with_nothing_listed_and_no_total_is_not_marked_paid(
    client: Client, answers: Answers, fake_orkestapay: Any, monkeypatch: pytest.MonkeyPatch
) -> None:
    answers.order_totals = False
    monkeypatch.setattr(OrkestaPayClient, "read_order_payments", lambda self, order_id: ([], []))
    order, checkout, completed_url = paid(fake_orkestapay)
    url = completed_url.split("&payment_id=")[0]  # no payment named by the return either

    come_back(client, url)

    order.refresh_from_db()
    assert (order.status, order.review_code) == (OrderStatus.PENDING, ReviewCode.MALFORMED_ANSWER)
    assert not order.payments.exists()
    assert Checkout.objects.get(pk=checkout.pk).status == CheckoutStatus.PENDING


def test_a_transfer_pending_on_an_order_still_created_is_seen(
    client: Client, answers: Answers, fake_orkestapay: Any
) -> None:
    """A SPEI payment pends while OrkestaPay may still report its order CREATED: the payments are listed anyway,
    so no second checkout is offered meanwhile."""
    answers.order_status = "CREATED"
    order = make_order()
    checkout = start(order)
    come_back(client, fake_orkestapay.pay_pending(checkout.orkestapay_checkout_id))

    assert Checkout.objects.get(pk=checkout.pk).status == CheckoutStatus.PENDING
    assert order.payments.get().status == PaymentStatus.PENDING
    with pytest.raises(PaymentInProgressError):
        start(Order.objects.get(pk=order.pk))


def test_a_poll_just_before_the_return_does_not_delay_the_buyers_confirmation(
    client: Client, orkestapay_settings: dict[str, Any], fake_orkestapay: Any
) -> None:
    order = make_order()
    checkout = start(order)
    order.refresh_from_db()
    assert services.poll_order(order).status == OrderStatus.PENDING  # the poll reads it: not paid yet
    completed_url = fake_orkestapay.pay(checkout.orkestapay_checkout_id)

    come_back(client, completed_url)  # within RETURN_SYNC_INTERVAL of the poll

    assert Order.objects.get(pk=order.pk).status == OrderStatus.PAID


def test_a_return_from_a_second_attempt_of_a_paid_order_reads_that_attempt(
    client: Client, orkestapay_settings: dict[str, Any], fake_orkestapay: Any, signal_log: Any
) -> None:
    """Issue 19, 5: paid on its first attempt, the buyer also pays a second tab and comes back through that
    attempt's link: the return reads that attempt (it is not known final), so the second payment is recorded."""
    fake_orkestapay.cancel_marks_order_canceled = False
    order = make_order()
    first = start(order)
    come_back(client, fake_orkestapay.cancel(first.orkestapay_checkout_id))
    second = start(Order.objects.get(pk=order.pk))
    return_read_interval_passed(order)
    come_back(client, fake_orkestapay.pay(second.orkestapay_checkout_id))
    assert Order.objects.get(pk=order.pk).status == OrderStatus.PAID

    return_read_interval_passed(order)
    come_back(client, fake_orkestapay.pay(first.orkestapay_checkout_id))  # the first tab, paid too

    order.refresh_from_db()
    assert order.payments.filter(status=PaymentStatus.COMPLETED).count() == 2
    assert order.review_code == ReviewCode.PAID_TWICE
    assert signal_log.names(order).count("order_paid_twice") == 1


# -- webhooks ------------------------------------------------------------------------------------------------------


def deliver(client: Client, payload: dict[str, Any], message_id: str) -> Any:
    raw = json.dumps(payload, separators=(",", ":")).encode()
    timestamp = int(time.time())
    headers = {
        "svix-id": message_id,
        "svix-timestamp": str(timestamp),
        "svix-signature": sign_payload(SECRET, message_id, timestamp, raw),
    }
    return client.post(reverse("orkestapay:webhook"), data=raw, content_type="application/json", headers=headers)


@pytest.fixture
def webhooks(settings: Any, orkestapay_settings: dict[str, Any]) -> None:
    settings.ORKESTAPAY = {**orkestapay_settings, "WEBHOOK_SECRETS": [SECRET]}


def test_an_envelope_with_the_event_name_under_type_is_processed(
    webhooks: None, answers: Answers, fake_orkestapay: Any
) -> None:
    order, checkout, _url = paid(fake_orkestapay)
    payment_id = payment_ids_at(fake_orkestapay, checkout.orkestapay_order_id)[-1]
    payment = fake_orkestapay.get_payment(payment_id)
    payload = {"type": "payment.purchase", "data": {"payment": payment}}

    assert deliver(Client(enforce_csrf_checks=True), payload, "msg_type").json() == {"status": "processed"}

    assert Event.objects.get().event_type == "payment.purchase"
    assert Order.objects.get(pk=order.pk).status == OrderStatus.PAID


def test_an_unusable_answer_acknowledges_the_webhook_flags_the_order_and_the_sweep_settles_it(
    webhooks: None, fake_orkestapay: Any, settings: Any
) -> None:
    order, checkout, _url = paid(fake_orkestapay)
    payment_id = payment_ids_at(fake_orkestapay, checkout.orkestapay_order_id)[-1]
    payload = {"type": "payment.purchase", "data": {"payment": fake_orkestapay.get_payment(payment_id)}}
    fake_orkestapay.inject_fault("GET", "re:/v1/orders/[^/]+", "malformed_json", times=1)

    response = deliver(Client(enforce_csrf_checks=True), payload, "msg_unusable")

    assert (response.status_code, response.json()) == (200, {"status": "deferred"})  # no pile of retries
    event = Event.objects.get()
    assert (event.status, event.attempts) == (EventStatus.FAILED, 1)
    assert "not valid JSON" in event.error
    assert event.next_attempt_at is not None
    assert event.next_attempt_at > timezone.now()
    order.refresh_from_db()
    assert (order.status, order.review_code) == (OrderStatus.PENDING, ReviewCode.MALFORMED_ANSWER)

    assert services.reprocess_stale_events().succeeded == 0  # backing off
    Event.objects.filter(pk=event.pk).update(next_attempt_at=timezone.now())
    assert services.reprocess_stale_events().changed == 1

    event.refresh_from_db()
    assert (event.status, event.attempts) == (EventStatus.PROCESSED, 2)
    assert Order.objects.get(pk=order.pk).status == OrderStatus.PAID


def test_a_bug_while_processing_is_acknowledged_and_retried_by_the_sweep(
    webhooks: None, fake_orkestapay: Any, monkeypatch: pytest.MonkeyPatch
) -> None:
    order, checkout, _url = paid(fake_orkestapay)
    payload = {"type": "payment.purchase", "data": {"payment": {"order_id": checkout.orkestapay_order_id}}}

    def broken(*args: Any, **kwargs: Any) -> Any:
        raise KeyError("a bug of ours")

    monkeypatch.setattr("django_orkestapay.services.webhooks.apply_reads", broken)
    response = deliver(Client(enforce_csrf_checks=True), payload, f"msg_{uuid.uuid4().hex}")

    assert (response.status_code, response.json()) == (200, {"status": "deferred"})
    assert Event.objects.get().status == EventStatus.FAILED
    assert not Order.objects.get(pk=order.pk).needs_review  # OrkestaPay's answer was fine: nothing to flag
    assert Payment.objects.count() == 0  # rolled back
