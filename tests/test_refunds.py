"""Refunds through the service layer: recorded before the call, idempotent, never more than was paid."""

from decimal import Decimal

import pytest
from django.core.exceptions import ValidationError
from django.db import connection, transaction
from django.test.utils import CaptureQueriesContext

from django_orkestapay import services
from django_orkestapay.exceptions import APIConnectionError, InvalidRequestError, RefundNotAllowedError
from django_orkestapay.models import Order, OrderStatus, Refund, RefundStatus
from django_orkestapay.services import refund_sending
from django_orkestapay.services.locking import lock_order
from tests.conftest import make_order, make_paid_order, refunded_at, refuse_refunds_at_the_api
from tests.ledger_helpers import signal_log
from tests.test_views import data_queries

pytestmark = pytest.mark.django_db(transaction=True)


@pytest.fixture
def paid(orkestapay_settings, fake_orkestapay) -> Order:
    return make_paid_order(fake_orkestapay)


def refund_calls(fake) -> int:
    return sum(1 for r in fake.request_log if r.method == "POST" and r.path.endswith("/refund"))


def test_partial_then_rest_ends_refunded(paid, fake_orkestapay):
    first = services.refund_order(paid, amount=Decimal("90.00"), description="damaged box", requested_by="ops")
    paid.refresh_from_db()
    assert (first.status, paid.status) == (RefundStatus.SUCCEEDED, OrderStatus.PARTIALLY_REFUNDED)
    # the rich profile's refund answer is the REFUND transaction; the evidence profile's carries no id
    assert bool(first.transaction_id) == (fake_orkestapay.profile == "rich")
    assert services.refundable_amount(paid) == Decimal("900.00")
    services.refund_order(paid)
    paid.refresh_from_db()
    assert paid.status == OrderStatus.REFUNDED
    assert services.refundable_amount(paid) == Decimal("0.00")
    assert refund_calls(fake_orkestapay) == 2
    body = next(r.json_body for r in fake_orkestapay.request_log if r.path.endswith("/refund"))
    assert (Decimal(str(body["amount"])), body["description"]) == (Decimal("90"), "damaged box")


@pytest.mark.parametrize("amount", [Decimal("0"), Decimal("-1"), Decimal("990.01"), Decimal("1.001")])
def test_amounts_out_of_bounds_are_refused_before_any_call(paid, fake_orkestapay, amount):
    with pytest.raises((RefundNotAllowedError, ValidationError)):
        services.refund_order(paid, amount=amount)
    assert Refund.objects.count() == 0
    assert refund_calls(fake_orkestapay) == 0


def test_unpaid_order_cannot_be_refunded(orkestapay_settings, fake_orkestapay):
    order = make_order()
    with pytest.raises(RefundNotAllowedError):
        services.refund_order(order)
    assert Refund.objects.count() == 0


def test_refusal_marks_failed_and_frees_the_amount(paid, fake_orkestapay):
    refuse_refunds_at_the_api(fake_orkestapay)
    with pytest.raises(InvalidRequestError):
        services.refund_order(paid)
    refund = paid.refunds.get()
    assert refund.status == RefundStatus.FAILED
    assert "not enabled" in refund.error
    paid.refresh_from_db()
    assert paid.status == OrderStatus.PAID
    assert services.refundable_amount(paid) == Decimal("990.00")


def test_a_refund_that_succeeds_clears_the_error_an_earlier_refund_left(paid, fake_orkestapay):
    """Both ways the order is saved after a refund succeeds: with a status change, and without one."""
    for amount, status in (Decimal("90.00"), OrderStatus.PARTIALLY_REFUNDED), (Decimal("10.00"), None):
        refuse_refunds_at_the_api(fake_orkestapay)
        with pytest.raises(InvalidRequestError):
            services.refund_order(Order.objects.get(pk=paid.pk), amount=amount)
        before = Order.objects.get(pk=paid.pk)
        assert f"refunding {amount}" in before.last_error
        fake_orkestapay.refunds_enabled = True
        assert services.refund_order(before, amount=amount).status == RefundStatus.SUCCEEDED
        after = Order.objects.get(pk=paid.pk)
        assert after.status == (status or before.status) == OrderStatus.PARTIALLY_REFUNDED
        assert after.last_error == ""


def test_declined_refund_is_failed(paid, fake_orkestapay):
    fake_orkestapay.decline_refunds = True
    with pytest.raises(RefundNotAllowedError, match="FAILED"):
        services.refund_order(paid)
    assert paid.refunds.get().status == RefundStatus.FAILED
    assert Order.objects.get(pk=paid.pk).status == OrderStatus.PAID


@pytest.mark.usefixtures("trusted_idempotency_keys")  # the idempotent resend path
def test_unknown_outcome_keeps_the_amount_reserved_and_retry_reuses_the_key(paid, fake_orkestapay):
    fake_orkestapay.inject_fault("POST", "/v1/payments/*", "connection_reset", after_processing=True)
    with pytest.raises(APIConnectionError):
        services.refund_order(paid)
    refund = paid.refunds.get()
    assert refund.status == RefundStatus.REQUESTED
    with pytest.raises(RefundNotAllowedError):  # nothing left: a second refund cannot double the money back
        services.refund_order(paid)
    services.retry_refund(refund)
    refund.refresh_from_db()
    assert refund.status == RefundStatus.SUCCEEDED
    assert refunded_at(fake_orkestapay, paid.orkestapay_payment_id) == Decimal("990")  # once
    with pytest.raises(RefundNotAllowedError):
        services.retry_refund(refund)


def test_refund_webhook_after_our_refund_changes_nothing(paid, fake_orkestapay):
    services.refund_order(paid)
    result = services.sync_order(paid)
    # the evidence profile's order stays COMPLETED after refunds (no source shows a refunded order status)
    assert result.remote_status == ("REFUNDED" if fake_orkestapay.profile == "rich" else "COMPLETED")
    assert not result.changed
    assert Order.objects.get(pk=paid.pk).status == OrderStatus.REFUNDED


def test_leaving_a_refund_for_a_person_and_marking_it_failed_take_the_order_lock_first(paid):
    """Each one's transaction starts with the order's lock as ``services.locking`` takes it: on SQLite a write (a
    transaction that reads first fails at once with "database is locked" once another connection wrote), on
    PostgreSQL the locking read."""
    refund = Refund.objects.create(
        order=paid,
        payment=paid.payments.get(),
        orkestapay_payment_id=paid.orkestapay_payment_id,
        amount=Decimal("100.00"),
        idempotency_key="lost-answer",
        attempts=1,
    )
    with CaptureQueriesContext(connection) as left, pytest.raises(RefundNotAllowedError, match=r"100\.00"):
        refund_sending._leave_for_a_person(refund, "its outcome is unknown")
    with CaptureQueriesContext(connection) as marked:
        services.mark_refund_failed(refund, marked_by="ops")

    assert Refund.objects.get(pk=refund.pk).status == RefundStatus.FAILED
    for captured in (left, marked):
        first = data_queries(captured.captured_queries)[0].upper()
        assert '"ORKESTAPAY_ORDER"' in first.split(" WHERE ")[0], first
        if connection.features.has_select_for_update:
            assert first.startswith("SELECT"), first
            assert first.endswith("FOR UPDATE"), first
        else:
            assert first.startswith("UPDATE"), first


def lost_refund(paid: Order, fake) -> Refund:
    """A refund of 100 that went through at OrkestaPay, its answer lost, then left for a person (nothing tells us)."""
    fake.inject_fault("POST", "/v1/payments/*/refund", "timeout", after_processing=True)
    with pytest.raises(APIConnectionError):
        services.refund_order(paid, amount=Decimal("100.00"))
    refund = Refund.objects.get()
    Refund.objects.filter(pk=refund.pk).update(needs_review=True)
    return Refund.objects.get(pk=refund.pk)


@pytest.mark.django_db(transaction=True)  # order_refunded is sent on commit
def test_a_person_marks_a_refund_left_for_review_succeeded(paid, fake_orkestapay):
    refund = lost_refund(paid, fake_orkestapay)
    with signal_log() as log:
        done = services.mark_refund_succeeded(refund, marked_by="ops")

    assert (done.status, done.needs_review) == (RefundStatus.SUCCEEDED, False)
    assert "marked succeeded by ops" in done.error
    assert Order.objects.get(pk=paid.pk).status == OrderStatus.PARTIALLY_REFUNDED
    assert log.names(paid).count("order_refunded") == 1
    assert services.refundable_amount(paid) == Decimal("890.00")
    with pytest.raises(RefundNotAllowedError, match=str(done.pk)):  # "not waiting for a person's check"
        services.mark_refund_succeeded(done)  # once only


def test_only_a_refund_left_for_review_can_be_marked_succeeded(paid, fake_orkestapay):
    fake_orkestapay.inject_fault("POST", "/v1/payments/*/refund", "timeout", after_processing=True)
    with pytest.raises(APIConnectionError):
        services.refund_order(paid, amount=Decimal("100.00"))
    refund = Refund.objects.get()
    with pytest.raises(RefundNotAllowedError, match=str(refund.pk)):  # "not waiting for a person's check"
        services.mark_refund_succeeded(refund)
    assert Refund.objects.get().status == RefundStatus.REQUESTED


@pytest.mark.orkestapay_profile("evidence")  # no transaction id, no refunded amount: only the event can tell
def test_a_refund_event_settles_nothing_it_cannot_tell_apart(paid, fake_orkestapay):
    """Two refunds of ours answered pending on one payment: a ``payment.refund`` event could be about either, so it
    settles neither (a person, or a later answer, tells them apart)."""
    fake_orkestapay.refund_outcome = "pending"
    first = services.refund_order(paid, amount=Decimal("100.00"))
    second = services.refund_order(Order.objects.get(pk=paid.pk), amount=Decimal("200.00"))
    assert (first.status, second.status) == (RefundStatus.PENDING, RefundStatus.PENDING)
    with transaction.atomic():
        order = lock_order(paid.pk)
        assert refund_sending.settle_by_refund_event(order, paid.orkestapay_payment_id) is None
    assert set(Refund.objects.values_list("status", flat=True)) == {RefundStatus.PENDING}
