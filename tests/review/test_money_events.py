"""Money events that arrive twice, late, out of order, at once, or about an older attempt of the same order: the
cells of the audit's matrix the rest of the suite left empty (payments, failed and pending ones, and refund
settlements, ours and the portal's, with their webhooks). Each runs on SQLite and on PostgreSQL (scripts/test);
the ones that need two connections at once need PostgreSQL's row locks and skip on SQLite (tests/test_startproject.py
runs the same races on SQLite with the quickstart's ``OPTIONS``)."""

from __future__ import annotations

import threading
import time
from collections.abc import Callable
from concurrent.futures import ThreadPoolExecutor
from decimal import Decimal
from typing import Any, TypeVar

import pytest
from django.db import connection
from django.test import Client
from django.urls import reverse

from django_orkestapay import adapters, services
from django_orkestapay.exceptions import InvalidRequestError
from django_orkestapay.models import (
    Checkout,
    CheckoutStatus,
    Event,
    Order,
    OrderStatus,
    PaymentStatus,
    Refund,
    RefundStatus,
    ReviewCode,
)
from django_orkestapay.services import orders, status
from tests.conftest import (
    make_order,
    make_paid_order,
    pay_form,
    payment_ids_at,
    refund_transactions_at,
    refunded_at,
)
from tests.ledger_helpers import come_back, signal_log, start
from tests.review.helpers import deliver, older_and_newer, payment_id_of
from tests.shop.models import Cart

pytestmark = pytest.mark.django_db(transaction=True)

T = TypeVar("T")


def needs_row_locks() -> None:
    if connection.vendor != "postgresql":
        pytest.skip("needs PostgreSQL row locks: set TEST_DATABASE_URL (scripts/test does)")


def at_once(calls: list[Callable[[], T]]) -> list[T]:
    """Run ``calls`` in threads released together, each on its own connection; their results in order."""
    barrier = threading.Barrier(len(calls), timeout=30)

    def run(call: Callable[[], T]) -> T:
        barrier.wait()
        try:
            return call()
        finally:
            connection.close()

    with ThreadPoolExecutor(max_workers=len(calls)) as pool:
        return list(pool.map(run, calls))


# --- the buyer's returns --------------------------------------------------------------------------------------


def test_a_cancel_return_followed_twice_cancels_once(client, orkestapay_settings, fake_orkestapay):
    """The buyer reloads the cancel page (every return reads OrkestaPay here: RETURN_SYNC_INTERVAL 0)."""
    fake_orkestapay.cancel_marks_order_canceled = False
    order = make_order()
    checkout = start(order)
    with signal_log() as log:
        assert come_back(client, checkout.canceled_url).status_code == 200
        assert come_back(client, checkout.canceled_url).status_code == 200
    order.refresh_from_db()
    assert (order.status, Checkout.objects.get(pk=checkout.pk).status) == (
        OrderStatus.CANCELED,
        CheckoutStatus.CANCELED,
    )
    assert log.names(order) == ["order_status_changed", "order_canceled"]


def test_the_older_attempts_cancel_return_does_not_cancel_the_newer_open_attempt(
    client, orkestapay_settings, fake_orkestapay
):
    """A tab of the first attempt is canceled after the buyer started a second one: the order stays payable."""
    order = make_order()
    older, newer = older_and_newer(order)
    with signal_log() as log:
        come_back(client, older.canceled_url)
    assert Checkout.objects.get(pk=older.pk).status == CheckoutStatus.CANCELED
    assert Checkout.objects.get(pk=newer.pk).status == CheckoutStatus.OPEN
    assert Order.objects.get(pk=order.pk).status == OrderStatus.PENDING
    assert "order_canceled" not in log.names()

    come_back(client, fake_orkestapay.pay(newer.orkestapay_checkout_id))
    assert Order.objects.get(pk=order.pk).status == OrderStatus.PAID


# --- webhooks -------------------------------------------------------------------------------------------------


def test_a_webhook_about_the_older_attempt_pays_once_and_its_redelivery_is_a_duplicate(
    webhooks, client, fake_orkestapay
):
    order = make_order()
    older, newer = older_and_newer(order)
    payment = fake_orkestapay.get_payment(payment_id_of(fake_orkestapay.pay(older.orkestapay_checkout_id)))

    with signal_log() as log:
        assert deliver(payment, message_id="msg_older").json() == {"status": "processed"}
        assert deliver(payment, message_id="msg_older").json() == {"status": "duplicate"}
        assert deliver(payment, "payment.capture").json() == {"status": "processed"}  # another event, same money
        come_back(client, newer.canceled_url)  # and the newer attempt's tab is canceled late

    order.refresh_from_db()
    assert order.status == OrderStatus.PAID
    assert Checkout.objects.get(pk=older.pk).status == CheckoutStatus.COMPLETED
    assert [p.status for p in order.payments.all()] == [PaymentStatus.COMPLETED]
    assert log.names(order) == ["order_status_changed", "order_paid"]
    assert Event.objects.filter(order=order).count() == 2


def test_webhooks_out_of_order_decline_arriving_after_the_payment(webhooks, fake_orkestapay):
    """The card is declined, then a second card pays on the same attempt; OrkestaPay delivers the payment's event
    first and the decline's (and a stale "pending" one) afterwards: the order stays paid, announced once."""
    order = make_order()
    checkout = start(order)
    fake_orkestapay.decline(checkout.orkestapay_checkout_id)
    declined = payment_ids_at(fake_orkestapay, checkout.orkestapay_order_id)[-1]
    paid = payment_id_of(fake_orkestapay.pay(checkout.orkestapay_checkout_id))
    assert declined != paid

    with signal_log() as log:
        assert deliver(fake_orkestapay.get_payment(paid)).json() == {"status": "processed"}
        late = fake_orkestapay.get_payment(declined)
        assert deliver(late, "payment.cancel").json() == {"status": "processed"}
        assert deliver({**late, "status": "PENDING"}, "payment.update").json() == {"status": "processed"}

    order.refresh_from_db()
    assert order.status == OrderStatus.PAID
    statuses = dict(order.payments.values_list("orkestapay_payment_id", "status"))
    assert statuses == {declined: PaymentStatus.FAILED, paid: PaymentStatus.COMPLETED}
    assert log.names(order) == ["order_status_changed", "order_paid"]


# the portal's refund is mirrored from the payment's refunded amount, which only the rich profile shows
@pytest.mark.orkestapay_profile("rich")
def test_webhooks_out_of_order_refund_arriving_before_the_payment(webhooks, fake_orkestapay):
    """Paid and refunded in OrkestaPay's portal before the shop heard; the refund's event comes first, the purchase
    event last: refunded, through PAID, never announced as paid (nothing is left to ship for)."""
    order = make_order()
    checkout = start(order)
    payment_id = payment_id_of(fake_orkestapay.pay(checkout.orkestapay_checkout_id))
    fake_orkestapay.refund_from_portal(payment_id, 990)
    payment = fake_orkestapay.get_payment(payment_id)

    with signal_log() as log:
        assert deliver(payment, "payment.refund").json() == {"status": "processed"}
        assert deliver(payment, "payment.purchase").json() == {"status": "processed"}

    order.refresh_from_db()
    assert order.status == OrderStatus.REFUNDED
    changes = [(kw["old_status"], kw["new_status"]) for kw in log.of("order_status_changed")]
    assert changes == [(OrderStatus.PENDING, OrderStatus.PAID), (OrderStatus.PAID, OrderStatus.REFUNDED)]
    assert "order_paid" not in log.names(order)
    assert order.refunds.count() == 1  # mirrored once


def test_a_pending_webhook_twice_then_the_settled_one_late(webhooks, client, fake_orkestapay):
    """A bank transfer: its pending event twice (another message each time), then it settles with the webhook
    delayed until after the sweep read it."""
    order = make_order()
    checkout = start(order)
    payment_id = payment_id_of(fake_orkestapay.pay_pending(checkout.orkestapay_checkout_id))
    pending = fake_orkestapay.get_payment(payment_id)
    with signal_log() as log:
        assert deliver(pending).json() == {"status": "processed"}
        assert deliver(pending, "payment.update").json() == {"status": "processed"}
        assert Order.objects.get(pk=order.pk).status == OrderStatus.PENDING
        fake_orkestapay.settle(payment_id)
        services.sync_orders(services.orders_to_reconcile())
        assert deliver(fake_orkestapay.get_payment(payment_id), "payment.capture").json() == {"status": "processed"}
    assert Order.objects.get(pk=order.pk).status == OrderStatus.PAID
    assert log.names(order) == ["order_status_changed", "order_paid"]


# --- failed and pending payments ------------------------------------------------------------------------------


def decline(fake: Any, checkout: Checkout) -> dict[str, Any]:
    """The buyer's card is declined on ``checkout``: OrkestaPay's declined payment (what its webhook carries)."""
    fake.decline(checkout.orkestapay_checkout_id)
    return dict(fake.get_payment(payment_ids_at(fake, checkout.orkestapay_order_id)[-1]))


def test_a_decline_webhook_twice_fails_the_order_once(webhooks, fake_orkestapay):
    """The card is declined and OrkestaPay closes the order: the decline's event redelivered (the same message),
    and delivered again as another message, then the buyer's cancel-free return: failed once."""
    fake_orkestapay.decline_marks_order_failed = True
    order = make_order()
    checkout = start(order)
    declined = decline(fake_orkestapay, checkout)
    with signal_log() as log:
        assert deliver(declined, "payment.cancel", message_id="msg_declined").json() == {"status": "processed"}
        assert deliver(declined, "payment.cancel", message_id="msg_declined").json() == {"status": "duplicate"}
        assert deliver(declined, "payment.update").json() == {"status": "processed"}
        services.sync_order(Order.objects.get(pk=order.pk))
    assert Order.objects.get(pk=order.pk).status == OrderStatus.FAILED
    assert log.names(order) == ["order_status_changed", "order_failed"]
    assert [p.status for p in order.payments.all()] == [PaymentStatus.FAILED]


def test_a_decline_of_the_older_attempt_fails_nothing_while_the_newer_is_open(webhooks, fake_orkestapay):
    """From an older attempt: its card declined (OrkestaPay closes that order) while the buyer has a newer attempt
    open: the order stays payable, no ``order_failed``; then the newer attempt is paid."""
    fake_orkestapay.decline_marks_order_failed = True
    order = make_order()
    older, newer = older_and_newer(order)
    declined = decline(fake_orkestapay, older)
    with signal_log() as log:
        assert deliver(declined, "payment.cancel").json() == {"status": "processed"}
        assert Order.objects.get(pk=order.pk).status == OrderStatus.PENDING
        paid = fake_orkestapay.get_payment(payment_id_of(fake_orkestapay.pay(newer.orkestapay_checkout_id)))
        assert deliver(paid).json() == {"status": "processed"}
    assert Order.objects.get(pk=order.pk).status == OrderStatus.PAID
    assert log.names(order) == ["order_status_changed", "order_paid"]


def test_a_late_decline_of_the_older_attempt_after_the_newer_paid_changes_nothing(webhooks, fake_orkestapay):
    """Late and from an older attempt: the decline's event arrives after the order was paid on the newer one."""
    fake_orkestapay.decline_marks_order_failed = True
    order = make_order()
    older, newer = older_and_newer(order)
    declined = decline(fake_orkestapay, older)
    paid = fake_orkestapay.get_payment(payment_id_of(fake_orkestapay.pay(newer.orkestapay_checkout_id)))
    with signal_log() as log:
        assert deliver(paid).json() == {"status": "processed"}
        assert deliver(declined, "payment.cancel").json() == {"status": "processed"}
    assert Order.objects.get(pk=order.pk).status == OrderStatus.PAID
    assert log.names(order) == ["order_status_changed", "order_paid"]


def test_a_pending_webhook_arriving_after_the_settled_one_does_not_undo_it(webhooks, fake_orkestapay):
    """Out of order: a bank transfer settles and its event is processed; the older "pending" event comes last,
    its body still saying pending: the ledger keeps the payment completed (the API's word), paid once."""
    order = make_order()
    checkout = start(order)
    payment_id = payment_id_of(fake_orkestapay.pay_pending(checkout.orkestapay_checkout_id))
    pending = fake_orkestapay.get_payment(payment_id)
    fake_orkestapay.settle(payment_id)
    with signal_log() as log:
        assert deliver(fake_orkestapay.get_payment(payment_id), "payment.capture").json() == {"status": "processed"}
        assert deliver(pending, "payment.update").json() == {"status": "processed"}
    assert Order.objects.get(pk=order.pk).status == OrderStatus.PAID
    assert order.payments.get().status == PaymentStatus.COMPLETED
    assert log.names(order) == ["order_status_changed", "order_paid"]


def test_a_transfer_on_the_older_attempt_settling_after_the_newer_paid_is_paid_twice_once(webhooks, fake_orkestapay):
    """From an older attempt: a bank transfer started there, the buyer then paid the newer attempt by card; the
    transfer's pending event comes, then it settles (event twice): paid twice, told once, nothing announced again."""
    order = make_order()
    older, newer = older_and_newer(order)
    transfer = payment_id_of(fake_orkestapay.pay_pending(older.orkestapay_checkout_id))
    card = fake_orkestapay.get_payment(payment_id_of(fake_orkestapay.pay(newer.orkestapay_checkout_id)))
    with signal_log() as log:
        assert deliver(card).json() == {"status": "processed"}
        assert deliver(fake_orkestapay.get_payment(transfer), "payment.update").json() == {"status": "processed"}
        assert Order.objects.get(pk=order.pk).status == OrderStatus.PAID
        fake_orkestapay.settle(transfer)
        settled = fake_orkestapay.get_payment(transfer)
        assert deliver(settled, "payment.capture", message_id="msg_settled").json() == {"status": "processed"}
        assert deliver(settled, "payment.purchase").json() == {"status": "processed"}
    order.refresh_from_db()
    assert (order.status, order.review_code) == (OrderStatus.PAID, ReviewCode.PAID_TWICE)
    assert [n for n in log.names(order) if n.startswith("order_paid")] == ["order_paid", "order_paid_twice"]


# --- refunds --------------------------------------------------------------------------------------------------


def settled_refund(fake: Any, *, succeed: bool = True) -> tuple[Order, Refund, dict[str, Any]]:
    """A paid order, a refund of 400 of it that OrkestaPay answered pending and then settled (``succeed``) without
    the shop hearing yet, and OrkestaPay's payment as its webhook carries it."""
    fake.refund_outcome = "pending"
    paid = make_paid_order(fake)
    refund = services.refund_order(paid, amount=Decimal("400"))
    fake.settle_refund(refund.transaction_id, succeed=succeed)
    return paid, refund, dict(fake.get_payment(paid.orkestapay_payment_id))


@pytest.mark.orkestapay_profile("evidence")  # the refund answer and the payment as the public record shows them
def test_a_pending_refund_settled_at_orkestapay_is_settled_without_a_transaction_id(webhooks, fake_orkestapay):
    """OrkestaPay answers the refund PENDING, then refunds it and says so (``payment.refund``: "a refund is
    issued"); the sweep runs. The money left: the ledger should say so."""
    fake_orkestapay.refund_outcome = "pending"
    paid = make_paid_order(fake_orkestapay)
    refund = services.refund_order(paid, amount=Decimal("400"))
    assert (refund.status, refund.transaction_id) == (RefundStatus.PENDING, "")
    [transaction] = refund_transactions_at(fake_orkestapay, paid.orkestapay_payment_id)
    fake_orkestapay.settle_refund(transaction["transaction_id"])

    payment = fake_orkestapay.get_payment(paid.orkestapay_payment_id)
    assert deliver(payment, "payment.refund").json() == {"status": "processed"}
    services.reconcile_refunds()

    refund.refresh_from_db()
    assert refund.status == RefundStatus.SUCCEEDED
    assert Order.objects.get(pk=paid.pk).status == OrderStatus.PARTIALLY_REFUNDED
    assert refunded_at(fake_orkestapay, paid.orkestapay_payment_id) == Decimal("400")  # once


# settled by its REFUND transaction's id, which only the rich profile's answers carry (the evidence profile:
# test_money_events.py::test_a_pending_refund_settled_at_orkestapay_is_settled_without_a_transaction_id)
@pytest.mark.orkestapay_profile("rich")
def test_a_refund_settlement_heard_twice_and_late_settles_once(webhooks, fake_orkestapay):
    """A pending refund settles at OrkestaPay; the sweep reconciles it twice, the order's sync reads it, and the
    refund's webhook arrives last: one succeeded refund, one status change, never sent again."""
    paid, refund, _payment = settled_refund(fake_orkestapay)

    with signal_log() as log:
        assert services.reconcile_refunds().changed == 1
        assert services.reconcile_refunds().changed == 0
        services.sync_order(paid)
        payment = fake_orkestapay.get_payment(paid.orkestapay_payment_id)
        assert deliver(payment, "payment.refund").json() == {"status": "processed"}

    refund.refresh_from_db()
    assert refund.status == RefundStatus.SUCCEEDED
    assert Refund.objects.filter(order=paid).count() == 1
    assert Order.objects.get(pk=paid.pk).status == OrderStatus.PARTIALLY_REFUNDED
    changes = [(kw["old_status"], kw["new_status"]) for kw in log.of("order_status_changed")]
    assert changes == [(OrderStatus.PAID, OrderStatus.PARTIALLY_REFUNDED)]
    assert [kw["refund"].pk for kw in log.of("order_refunded")] == [refund.pk]  # announced once
    assert fake_orkestapay.count_requests("POST", prefix="/v1/payments/") == 1


def test_an_admin_refund_after_the_portal_refunded_everything_sends_no_more_money(orkestapay_settings, fake_orkestapay):
    """Late: the operator presses Refund on an order OrkestaPay's portal already refunded in full, before any read
    told the shop. No money beyond what was paid ever leaves; the order ends refunded."""
    paid = make_paid_order(fake_orkestapay)
    fake_orkestapay.refund_from_portal(paid.orkestapay_payment_id, 990)
    rich = fake_orkestapay.profile == "rich"
    # the rich profile's payment is REFUNDED; the evidence profile's stays COMPLETED, with nothing left to refund
    refusal = "cannot be refunded in status REFUNDED" if rich else "at most the refundable 0"
    with pytest.raises(InvalidRequestError, match=refusal):
        services.refund_order(Order.objects.get(pk=paid.pk))
    assert Refund.objects.get(order=paid).status == RefundStatus.FAILED  # ours: refused, its amount freed
    services.sync_order(paid)
    assert refunded_at(fake_orkestapay, paid.orkestapay_payment_id) == Decimal("990")  # refunded once, not twice
    statuses = sorted(Refund.objects.filter(order=paid).values_list("status", flat=True))
    if rich:  # the payment's refunded amount shows the portal's refund: mirrored once
        assert Order.objects.get(pk=paid.pk).status == OrderStatus.REFUNDED
        assert services.refundable_amount(Order.objects.get(pk=paid.pk)) == Decimal("0")
        assert statuses == [RefundStatus.FAILED, RefundStatus.SUCCEEDED]
    else:  # no source shows a refund on a payment: the portal's stays unknown to the shop (docs: recipes/refunds)
        assert Order.objects.get(pk=paid.pk).status == OrderStatus.PAID
        assert statuses == [RefundStatus.FAILED]


def test_a_refund_of_the_payment_on_the_older_attempt(orkestapay_settings, client, fake_orkestapay):
    """The order was paid through its first attempt while a second was open: the refund goes to that payment."""
    order = make_order()
    older, _newer = older_and_newer(order)
    come_back(client, fake_orkestapay.pay(older.orkestapay_checkout_id))
    order.refresh_from_db()
    refund = services.refund_order(order)
    assert refund.status == RefundStatus.SUCCEEDED
    assert refund.payment.checkout_id == older.pk
    assert Order.objects.get(pk=order.pk).status == OrderStatus.REFUNDED
    assert client.post(reverse("orkestapay:pay"), pay_form(order)).status_code == 409  # no new checkout


# settled by its REFUND transaction's id, which only the rich profile's answers carry; the evidence profile sends
# no event when a pending refund fails and shows no refund on the payment, so the shop cannot hear of it there
@pytest.mark.orkestapay_profile("rich")
def test_a_refund_that_fails_at_orkestapay_heard_twice_frees_its_amount_once(webhooks, fake_orkestapay):
    """A pending refund fails at OrkestaPay; its webhook comes twice and the sweep reconciles it: failed once, its
    amount refundable again, the order as it was, no ``order_refunded``."""
    paid, refund, payment = settled_refund(fake_orkestapay, succeed=False)
    with signal_log() as log:
        assert deliver(payment, "payment.refund", message_id="msg_failed").json() == {"status": "processed"}
        assert deliver(payment, "payment.refund", message_id="msg_failed").json() == {"status": "duplicate"}
        assert deliver(payment, "payment.refund").json() == {"status": "processed"}
        services.reconcile_refunds()
    refund.refresh_from_db()
    assert refund.status == RefundStatus.FAILED
    assert Order.objects.get(pk=paid.pk).status == OrderStatus.PAID
    assert services.refundable_amount(Order.objects.get(pk=paid.pk)) == Decimal("990.00")
    assert "order_refunded" not in log.names(paid)
    assert "order_status_changed" not in log.names(paid)


# the portal's refund is mirrored from the payment's refunded amount, which only the rich profile shows
@pytest.mark.orkestapay_profile("rich")
def test_a_portal_refund_heard_twice_and_late_is_mirrored_and_announced_once(webhooks, fake_orkestapay):
    """A refund made in OrkestaPay's portal: its webhook twice (two messages), then the order's sync, late."""
    paid = make_paid_order(fake_orkestapay)
    fake_orkestapay.refund_from_portal(paid.orkestapay_payment_id, 300)
    payment = fake_orkestapay.get_payment(paid.orkestapay_payment_id)
    with signal_log() as log:
        assert deliver(payment, "payment.refund").json() == {"status": "processed"}
        assert deliver(payment, "payment.refund").json() == {"status": "processed"}
        services.sync_order(Order.objects.get(pk=paid.pk))
    assert Refund.objects.get(order=paid).amount == Decimal("300.00")
    [announced] = log.of("order_refunded")
    assert (announced["amount"], announced["refunded"], announced["left"]) == (
        Decimal("300.00"),
        Decimal("300.00"),
        Decimal("690.00"),
    )
    assert [(kw["old_status"], kw["new_status"]) for kw in log.of("order_status_changed")] == [
        (OrderStatus.PAID, OrderStatus.PARTIALLY_REFUNDED)
    ]


# settled by its REFUND transaction's id, which only the rich profile's answers carry (the evidence profile:
# test_money_events.py::test_a_pending_refund_settled_at_orkestapay_is_settled_without_a_transaction_id)
@pytest.mark.orkestapay_profile("rich")
def test_a_refund_settling_on_the_older_attempts_payment_of_an_order_paid_twice(webhooks, client, fake_orkestapay):
    """From an older attempt: both attempts were paid; the operator refunds the older attempt's payment (pending
    at OrkestaPay), which settles; its webhook arrives late, after the sweep settled it: announced once, with what
    the shop still holds (one payment's worth)."""
    fake_orkestapay.refund_outcome = "pending"
    order = make_order()
    older, newer = older_and_newer(order)
    come_back(client, fake_orkestapay.pay(older.orkestapay_checkout_id))
    fake_orkestapay.pay(newer.orkestapay_checkout_id)
    services.sync_order(Order.objects.get(pk=order.pk))
    first = order.payments.get(checkout=older)
    refund = services.refund_payment(first)
    fake_orkestapay.settle_refund(refund.transaction_id)
    with signal_log() as log:
        assert services.reconcile_refunds().changed == 1
        assert deliver(fake_orkestapay.get_payment(first.orkestapay_payment_id), "payment.refund").json() == {
            "status": "processed"
        }
    assert Order.objects.get(pk=order.pk).status == OrderStatus.PARTIALLY_REFUNDED
    [announced] = log.of("order_refunded")
    assert (announced["refund"].pk, announced["left"]) == (refund.pk, Decimal("990.00"))


# --- at once (PostgreSQL) -------------------------------------------------------------------------------------


def test_a_double_click_on_the_pay_button_makes_one_checkout(orkestapay_settings, fake_orkestapay):
    needs_row_locks()
    order = make_order()

    def press() -> tuple[int, str]:
        response = Client().post(reverse("orkestapay:pay"), pay_form(order))
        return response.status_code, response.get("Location", "")

    answers = at_once([press] * 4)
    assert {status for status, _ in answers} == {302}
    assert len({location for _, location in answers}) == 1
    assert order.checkouts.count() == 1
    assert fake_orkestapay.count_requests("POST", "/v1/checkouts") == 1


def test_a_paid_orders_returns_webhook_and_sweep_at_once_apply_once(webhooks, fake_orkestapay):
    """The completed return, a stale tab's cancel return, two deliveries of the webhook and the sync sweep, all at
    the same moment, for an order paid on its older attempt while a newer one is open."""
    needs_row_locks()
    order = make_order()
    older, newer = older_and_newer(order)
    payment = fake_orkestapay.get_payment(payment_id_of(fake_orkestapay.pay(older.orkestapay_checkout_id)))

    with signal_log() as log:
        at_once(
            [
                lambda: services.sync_checkout(Checkout.objects.get(pk=older.pk)),  # the completed return
                lambda: services.sync_checkout(Checkout.objects.get(pk=older.pk), canceled_by_buyer=True),
                lambda: services.sync_checkout(Checkout.objects.get(pk=newer.pk), canceled_by_buyer=True),
                lambda: deliver(payment, message_id="msg_race").status_code,
                lambda: deliver(payment, message_id="msg_race").status_code,
                lambda: services.sync_orders(services.orders_to_reconcile()),
            ]
        )

    order.refresh_from_db()
    assert order.status == OrderStatus.PAID
    assert [p.status for p in order.payments.all()] == [PaymentStatus.COMPLETED]
    assert log.names(order).count("order_paid") == 1
    assert "order_canceled" not in log.names(order)
    to_paid = [kw for kw in log.of("order_status_changed") if kw["new_status"] == OrderStatus.PAID]
    assert len(to_paid) == 1
    assert Event.objects.get(message_id="msg_race").attempts == 1


# settled by its REFUND transaction's id, which only the rich profile's answers carry (the evidence profile:
# test_money_events.py::test_a_pending_refund_settled_at_orkestapay_is_settled_without_a_transaction_id)
@pytest.mark.orkestapay_profile("rich")
def test_a_refund_settlement_reconciled_at_once_settles_once(webhooks, fake_orkestapay):
    needs_row_locks()
    paid, refund, payment = settled_refund(fake_orkestapay)

    with signal_log() as log:
        at_once(
            [
                lambda: services.reconcile_refunds(),
                lambda: services.reconcile_refunds(),
                lambda: services.sync_order(Order.objects.get(pk=paid.pk)),
                lambda: deliver(payment, "payment.refund").status_code,
            ]
        )

    refund.refresh_from_db()
    assert refund.status == RefundStatus.SUCCEEDED
    assert Refund.objects.filter(order=paid).count() == 1
    assert Order.objects.get(pk=paid.pk).status == OrderStatus.PARTIALLY_REFUNDED
    changes = [(kw["old_status"], kw["new_status"]) for kw in log.of("order_status_changed")]
    assert changes == [(OrderStatus.PAID, OrderStatus.PARTIALLY_REFUNDED)]
    assert [kw["refund"].pk for kw in log.of("order_refunded")] == [refund.pk]  # announced once
    assert fake_orkestapay.count_requests("POST", prefix="/v1/payments/") == 1


def test_one_cart_paid_through_two_orders_applied_at_once_is_announced_once(
    orkestapay_settings, fake_orkestapay, monkeypatch
):
    """Issue item 2. Two orders of one cart with the same contents (the buyer's e-mail changed between two presses
    of Pay), both paid, both applied at the same moment: each apply locked only its own order and saw only orders
    already committed as paid, so both sent ``order_paid`` and neither was flagged. The decision is now taken under
    the cart's row lock, which both applies take: one ``order_paid``, one ``order_paid_twice``, both flagged. (The
    decision is slowed down, so that without the lock the two would overlap every time.)"""
    needs_row_locks()
    customer = {"first_name": "Ana", "last_name": "López", "email": "ana@example.mx"}
    lines = [{"product_id": "tv", "name": "TV", "quantity": 1, "unit_price": "990"}]
    monkeypatch.setattr(
        Cart,
        "orkestapay_payment",
        lambda self: adapters.PaymentDescription(items=lines, customer=dict(customer), merchant_order_id="CART-AT"),
    )
    cart = Cart.objects.create(reference="AT")
    first = services.order_for(cart)
    customer["email"] = "ana.lopez@example.mx"
    second = services.order_for(cart)
    for order in (first, second):
        fake_orkestapay.pay(start(order).orkestapay_checkout_id)
    decide = orders.paid_twin

    def slow_decision(order: Order) -> Order | None:
        twin = decide(order)
        time.sleep(0.5)  # before the apply commits
        return twin

    monkeypatch.setattr(status, "paid_twin", slow_decision)

    with signal_log() as log:
        at_once(
            [
                lambda: services.sync_order(Order.objects.get(pk=first.pk)),
                lambda: services.sync_order(Order.objects.get(pk=second.pk)),
            ]
        )

    assert log.names().count("order_paid") == 1
    assert log.names().count("order_paid_twice") == 1
    flagged = Order.objects.filter(pk__in=[first.pk, second.pk], review_code=ReviewCode.PAID_TWICE)
    assert flagged.count() == 2
    assert set(Order.objects.values_list("status", flat=True)) == {OrderStatus.PAID}


# settled by its REFUND transaction's id, which only the rich profile's answers carry; the evidence profile sends
# no event when a pending refund fails and shows no refund on the payment, so the shop cannot hear of it there
@pytest.mark.orkestapay_profile("rich")
def test_a_failed_refund_settlement_reconciled_at_once_settles_once(webhooks, fake_orkestapay):
    needs_row_locks()
    paid, refund, payment = settled_refund(fake_orkestapay, succeed=False)

    with signal_log() as log:
        at_once(
            [
                lambda: services.reconcile_refunds(),
                lambda: services.sync_order(Order.objects.get(pk=paid.pk)),
                lambda: deliver(payment, "payment.refund").status_code,
                lambda: deliver(payment, "payment.refund").status_code,
            ]
        )

    refund.refresh_from_db()
    assert refund.status == RefundStatus.FAILED
    assert Refund.objects.filter(order=paid).count() == 1
    assert Order.objects.get(pk=paid.pk).status == OrderStatus.PAID
    assert not {"order_refunded", "order_status_changed"} & set(log.names(paid))


# the portal's refund is mirrored from the payment's refunded amount, which only the rich profile shows
@pytest.mark.orkestapay_profile("rich")
def test_a_portal_refund_heard_at_once_is_mirrored_and_announced_once(webhooks, fake_orkestapay):
    needs_row_locks()
    paid = make_paid_order(fake_orkestapay)
    fake_orkestapay.refund_from_portal(paid.orkestapay_payment_id, 990)
    payment = fake_orkestapay.get_payment(paid.orkestapay_payment_id)

    with signal_log() as log:
        at_once(
            [
                lambda: deliver(payment, "payment.refund").status_code,
                lambda: deliver(payment, "payment.refund").status_code,
                lambda: services.sync_order(Order.objects.get(pk=paid.pk)),
                lambda: services.sync_orders(services.orders_to_reconcile()),
            ]
        )

    assert Refund.objects.filter(order=paid).count() == 1
    assert Order.objects.get(pk=paid.pk).status == OrderStatus.REFUNDED
    assert [kw["left"] for kw in log.of("order_refunded")] == [Decimal("0.00")]
    assert log.names(paid).count("order_status_changed") == 1


def test_a_decline_webhook_the_return_and_the_sweep_at_once_fail_the_order_once(webhooks, fake_orkestapay):
    needs_row_locks()
    fake_orkestapay.decline_marks_order_failed = True
    order = make_order()
    checkout = start(order)
    declined = decline(fake_orkestapay, checkout)

    with signal_log() as log:
        at_once(
            [
                lambda: services.sync_checkout(Checkout.objects.get(pk=checkout.pk)),
                lambda: deliver(declined, "payment.cancel").status_code,
                lambda: deliver(declined, "payment.update").status_code,
                lambda: services.sync_orders(services.orders_to_reconcile()),
            ]
        )

    assert Order.objects.get(pk=order.pk).status == OrderStatus.FAILED
    assert log.names(order) == ["order_status_changed", "order_failed"]
    assert order.payments.count() == 1


def test_pending_webhooks_and_the_settlement_at_once_pay_once(webhooks, fake_orkestapay):
    needs_row_locks()
    order = make_order()
    checkout = start(order)
    payment_id = payment_id_of(fake_orkestapay.pay_pending(checkout.orkestapay_checkout_id))
    pending = fake_orkestapay.get_payment(payment_id)
    fake_orkestapay.settle(payment_id)
    settled = fake_orkestapay.get_payment(payment_id)

    with signal_log() as log:
        at_once(
            [
                lambda: deliver(pending, "payment.update").status_code,
                lambda: deliver(pending, "payment.update").status_code,
                lambda: deliver(settled, "payment.capture").status_code,
                lambda: services.sync_orders(services.orders_to_reconcile()),
            ]
        )

    assert Order.objects.get(pk=order.pk).status == OrderStatus.PAID
    assert order.payments.get().status == PaymentStatus.COMPLETED
    assert log.names(order) == ["order_status_changed", "order_paid"]
