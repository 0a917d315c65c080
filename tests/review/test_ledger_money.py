"""Review of issue 11 (money truth), the ledger and the derived status: the defects the review found, each now
asserted fixed, over real HTTP against the fake gateway, with the signals sent on the real commit."""

from __future__ import annotations

from datetime import timedelta
from decimal import Decimal
from typing import Any

import pytest
from django.core.management import call_command
from django.utils import timezone

from django_orkestapay import services
from django_orkestapay.models import Checkout, Order, OrderStatus, Payment, PaymentStatus, ReviewCode
from tests.conftest import hosted_page_post, make_order
from tests.ledger_helpers import come_back, signal_log, start
from tests.review.helpers import paid_at_orkestapay

pytestmark = pytest.mark.django_db(transaction=True)


def test_a_payments_list_that_lags_does_not_make_an_order_paid_twice(
    orkestapay_settings: Any, fake_orkestapay: Any
) -> None:
    """OrkestaPay reports the order COMPLETED but lists no payment yet (the case apply._payment_from_order exists
    for): one completed payment ``<order_id>:completed`` is recorded, fine. The next read lists the real payment: it
    becomes a second completed row, the order is flagged ``paid_twice`` and ``order_paid_twice`` tells the shop to
    "refund one, or keep both": a shop that refunds one refunds the buyer's only payment."""
    order, checkout, _payment_id = paid_at_orkestapay(fake_orkestapay)
    remote = fake_orkestapay.state.order(checkout.orkestapay_order_id)
    with fake_orkestapay.state.lock:
        listed, remote.payment_ids = remote.payment_ids, []  # the list lags behind the order's status
    with signal_log() as log:
        services.sync_order(order)
        assert Order.objects.get(pk=order.pk).status == OrderStatus.PAID
        with fake_orkestapay.state.lock:
            remote.payment_ids = listed  # the payment shows up
        services.sync_order(Order.objects.get(pk=order.pk))

    order = Order.objects.get(pk=order.pk)
    received = sum(
        order.payments.filter(status=PaymentStatus.COMPLETED).values_list("amount", flat=True), Decimal("0.00")
    )
    assert received == Decimal("990.00")  # the buyer paid once
    assert not order.needs_review
    assert log.names(order).count("order_paid_twice") == 0


# mirrored from the payment's refunded amount, which only the rich profile shows
@pytest.mark.orkestapay_profile("rich")
def test_an_order_paid_and_fully_refunded_before_we_heard_is_refunded(
    orkestapay_settings: Any, fake_orkestapay: Any
) -> None:
    """The buyer paid (webhook lost), support refunded all of it in OrkestaPay's portal; then orkestapay_sync
    reads the order. The ledger has the completed payment and a mirrored refund of 990, derive_status says
    REFUNDED, but the transition from PENDING is refused and ignored: the order stays ``pending`` ("payment in
    progress") for good, offered to pay again, while a partial portal refund would have given ``partially_refunded``."""
    order, _checkout, payment_id = paid_at_orkestapay(fake_orkestapay)
    fake_orkestapay.refund_from_portal(payment_id, 990)

    services.sync_order(order)

    order = Order.objects.get(pk=order.pk)
    assert Payment.objects.get(orkestapay_payment_id=payment_id).status == PaymentStatus.COMPLETED
    assert order.refunds.get().amount == Decimal("990.00")  # mirrored
    assert order.status == OrderStatus.REFUNDED


def test_a_payment_listed_under_two_orders_pays_only_its_own(orkestapay_settings: Any, fake_orkestapay: Any) -> None:
    """The gateway lists buyer Y's completed payment (its ``order_id`` says Y's order) under X's order too. X is
    read first (its sync, its expiry sweep, a webhook): the ledger records Y's payment as X's, X is ``paid`` and
    ``order_paid`` ships X. Then Y's own read finds the payment taken: Y is flagged ``malformed_answer`` and stays
    unpaid although Y paid. ``record_payment`` never compares the payment's ``order_id`` with the attempt it read."""
    x = make_order()
    x_checkout = start(x)
    y, y_checkout, y_payment = paid_at_orkestapay(fake_orkestapay)
    assert fake_orkestapay.get_payment(y_payment)["order_id"] == y_checkout.orkestapay_order_id
    x_remote = fake_orkestapay.state.order(x_checkout.orkestapay_order_id)
    with fake_orkestapay.state.lock:
        x_remote.payment_ids.append(y_payment)  # listed under X as well

    with signal_log() as log:
        services.sync_order(x)
        services.sync_order(y)

    x, y = Order.objects.get(pk=x.pk), Order.objects.get(pk=y.pk)
    assert (x.status, y.status) == (OrderStatus.PENDING, OrderStatus.PAID)
    assert Payment.objects.get(orkestapay_payment_id=y_payment).order_id == y.pk
    assert log.names(x) == ["order_needs_review"]  # a person is told (malformed_answer), nothing else


def test_a_transfer_whose_order_expired_at_orkestapay_no_longer_blocks_paying(
    orkestapay_settings: Any, fake_orkestapay: Any
) -> None:
    """The buyer picks SPEI and never transfers; OrkestaPay expires the order (PAYMENT_ACTION_REQUIRED -> EXPIRED,
    after which the fake refuses to settle it). The payment itself still says PAYMENT_ACTION_REQUIRED, which the
    ledger maps to pending and the attempt status puts above the order's EXPIRED: the attempt stays ``pending``,
    the order ``pending``, and ``start_checkout`` answers "a payment is in progress, do not pay again" for good.
    Neither the sweep nor the sync could ever change it. In the evidence profile OrkestaPay's order stays CREATED:
    its own ``expires_at`` having passed is what says it expired (``attempts.remote_status_now``)."""
    order = make_order()
    checkout = start(order)
    fake_orkestapay.pay_pending(checkout.orkestapay_checkout_id)
    services.sync_order(order)
    fake_orkestapay.expire_checkout(checkout.orkestapay_checkout_id)
    if fake_orkestapay.profile == "evidence":  # the order's expiry shows only as its expires_at passing: ours too
        Checkout.objects.filter(pk=checkout.pk).update(expires_at=timezone.now() - timedelta(seconds=1))
    # the evidence profile shows no EXPIRED status: the order stays CREATED, and its expires_at has passed
    expired_status = "EXPIRED" if fake_orkestapay.profile == "rich" else "CREATED"
    assert fake_orkestapay.get_order(checkout.orkestapay_order_id)["status"] == expired_status

    services.sync_order(Order.objects.get(pk=order.pk))
    services.expire_checkouts()

    order = Order.objects.get(pk=order.pk)
    assert order.status == OrderStatus.EXPIRED
    assert start(order).pk != checkout.pk  # a new attempt, not PaymentInProgressError


@pytest.mark.parametrize("later_status", ["VOIDED", "CANCELED", "CHARGEBACK"])
def test_a_completed_payment_reported_voided_later_is_flagged(
    orkestapay_settings: Any, fake_orkestapay: Any, later_status: str
) -> None:
    """The ledger's monotonic rule keeps the row completed (right: we must not forget the money arrived), but
    nothing tells a person that OrkestaPay now says the money is not there: no review flag, no signal, and
    ``refundable_amount`` still offers 990 of a payment OrkestaPay will not refund."""
    order, _checkout, payment_id = paid_at_orkestapay(fake_orkestapay)
    services.sync_order(order)
    with fake_orkestapay.state.lock:
        fake_orkestapay.state.payment(payment_id).status = later_status

    services.sync_order(Order.objects.get(pk=order.pk))

    order = Order.objects.get(pk=order.pk)
    payment = Payment.objects.get(orkestapay_payment_id=payment_id)
    assert payment.status == PaymentStatus.COMPLETED  # kept (the money arrived), OrkestaPay's word shown, and ...
    assert payment.remote_status == later_status
    assert order.needs_review  # ... a person is told OrkestaPay now says otherwise


def test_order_paid_twice_is_sent_once_even_after_the_operator_reviewed_it(
    orkestapay_settings: Any, fake_orkestapay: Any
) -> None:
    """Two attempts of one order are both paid: ``paid_twice`` and one ``order_paid_twice`` (whose receiver, per the
    signals page, refunds one payment or keeps both). The operator reviews the order in the admin and clears the flag
    and its reason (the two fields the admin leaves editable, "for the operator who reviewed it"). The next read (any
    refund webhook, a refresh) finds no "paid twice" line, flags it again and sends ``order_paid_twice`` a second
    time: a receiver that refunds one payment refunds again."""
    order = make_order()
    first = start(order)
    Checkout.objects.filter(pk=first.pk).update(expires_at=timezone.now() + timedelta(seconds=60))
    second = start(order)
    with signal_log() as log:
        fake_orkestapay.pay(first.orkestapay_checkout_id)
        fake_orkestapay.pay(second.orkestapay_checkout_id)
        services.sync_order(order)
        assert log.names(order).count("order_paid_twice") == 1

        reviewed = Order.objects.get(pk=order.pk)
        reviewed.needs_review, reviewed.review_reason = False, ""  # what the admin's change form saves
        reviewed.save()
        services.sync_order(Order.objects.get(pk=order.pk))

    assert log.names(order).count("order_paid_twice") == 1


def test_one_incomplete_answer_does_not_dispute_a_paid_attempt_for_good(
    orkestapay_settings: Any, fake_orkestapay: Any
) -> None:
    """The buyer pays; the read of the order comes back without ``total_amount`` (no public source shows the total
    on a read). ``payment_mismatches`` once read the missing amount as a disagreement, and ``Checkout.disputed`` is
    set once and never cleared, so every later, complete and matching answer was ignored: the order stayed
    ``pending`` (flagged ``amount_mismatch``) and ``start_checkout`` opened a new checkout for the same 990 MXN.
    What an answer does not say is no disagreement: the payment's own amount and currency decide."""
    order, checkout, _payment_id = paid_at_orkestapay(fake_orkestapay)
    fake_orkestapay.tamper_order(checkout.orkestapay_order_id, total_amount=None)

    services.sync_order(order)

    order = Order.objects.get(pk=order.pk)
    assert (order.status, order.needs_review) == (OrderStatus.PAID, False)
    assert not Checkout.objects.get(pk=checkout.pk).disputed


def test_a_second_payment_on_a_closed_attempt_of_a_paid_order_is_found(
    client: Any, orkestapay_settings: Any, fake_orkestapay: Any
) -> None:
    """The issue's scenario 2 once the order is paid: the buyer cancels attempt 1 (OrkestaPay keeps it payable),
    pays attempt 2, then pays the old tab of attempt 1 too, its webhook lost. ``orders_to_reconcile`` leaves paid
    orders out and ``sync_order`` reads a paid order's attempts only when open, pending or already holding money,
    so the buyer's second 990 MXN is never recorded: no ``paid_twice``, no ``order_paid_twice``, nothing to refund."""
    fake_orkestapay.cancel_marks_order_canceled = False
    order = make_order()
    first = start(order)
    come_back(client, hosted_page_post(first.redirect_url, "cancel").headers["Location"])
    second = start(Order.objects.get(pk=order.pk))
    come_back(client, fake_orkestapay.pay(second.orkestapay_checkout_id))
    assert Order.objects.get(pk=order.pk).status == OrderStatus.PAID

    fake_orkestapay.pay(first.orkestapay_checkout_id)  # the old tab, paid too; no webhook
    call_command("orkestapay_sync")
    services.sync_order(Order.objects.get(pk=order.pk))

    order = Order.objects.get(pk=order.pk)
    assert order.payments.filter(status=PaymentStatus.COMPLETED).count() == 2
    assert order.review_code == ReviewCode.PAID_TWICE
