"""The second money-truth round, the ledger's rules: an order's status is a function of its ledger, always. Where
the state machine forbids the move the ledger requires (money after a full refund, money that no longer counts),
the ledger wins and a person is told (``ledger_override`` and ``order_needs_review``); PAID only when the total
arrived. Over real HTTP against the fake gateway, signals on the real commit."""

from __future__ import annotations

from decimal import Decimal
from typing import Any

import pytest
from django.template import Context, Template

from django_orkestapay import services
from django_orkestapay.exceptions import RefundNotAllowedError
from django_orkestapay.models import Checkout, Order, OrderStatus, Payment, ReviewCode
from tests.conftest import make_order, make_paid_order
from tests.ledger_helpers import come_back, signal_log
from tests.review.helpers import deliver, older_and_newer, paid_at_orkestapay, payment_id_of
from tests.shop.models import Cart

pytestmark = pytest.mark.django_db(transaction=True)


def changes(log: Any) -> list[tuple[str, str]]:
    return [(kw["old_status"], kw["new_status"]) for kw in log.of("order_status_changed")]


def review_codes(log: Any) -> list[str]:
    return [kw["code"] for kw in log.of("order_needs_review")]


def test_money_after_a_full_refund_pays_the_order_again(client: Any, webhooks: Any, fake_orkestapay: Any):
    """Issue item 1. Paid on the second attempt, refunded in full; then the buyer's still-open tab of the first
    attempt is paid. The ledger holds 1,980 received and 990 refunded: 990 kept, the total. REFUNDED has no way out
    in the state machine, so the order used to keep saying "refunded" (no ``order_paid``, the return page and the
    button said refunded, the cart's ``paid_order_for`` did not count it). The ledger wins: partially refunded,
    announced as paid again (ship on it: the earlier shipment was refunded in full), flagged for a person. (The
    return of a refunded order is answered from the database: OrkestaPay's webhook brings the money.)"""
    cart = Cart.objects.create(reference="R1")
    order = services.order_for(cart)
    older, newer = older_and_newer(order)
    come_back(client, fake_orkestapay.pay(newer.orkestapay_checkout_id))
    services.refund_order(Order.objects.get(pk=order.pk))
    refunded = Order.objects.get(pk=order.pk)
    assert refunded.status == OrderStatus.REFUNDED
    first_paid_at = refunded.paid_at
    assert first_paid_at is not None
    assert services.paid_order_for(cart) is None

    completed_url = fake_orkestapay.pay(older.orkestapay_checkout_id)
    with signal_log() as log:
        assert deliver(fake_orkestapay.get_payment(payment_id_of(completed_url))).json() == {"status": "processed"}
    page = come_back(client, completed_url)

    order.refresh_from_db()
    assert order.status == OrderStatus.PARTIALLY_REFUNDED
    assert changes(log) == [(OrderStatus.REFUNDED, OrderStatus.PARTIALLY_REFUNDED)]
    assert log.names(order).count("order_paid") == 1
    assert log.names(order).count("order_paid_twice") == 1
    assert sorted(review_codes(log)) == [ReviewCode.LEDGER_OVERRIDE, ReviewCode.PAID_TWICE]
    assert "refunded in full" in order.review_reason
    assert order.paid_at is not None
    assert order.paid_at > first_paid_at
    assert services.paid_order_for(cart) == order
    assert services.refundable_amount(order) == order.total_amount
    assert "This order was refunded" not in page.content.decode()
    button = Template("{% load orkestapay %}{% orkestapay_button order %}").render(Context({"order": order}))
    assert 'data-testid="orkestapay-paid"' in button


def test_a_partial_payment_refunded_is_never_paid(orkestapay_settings: Any, fake_orkestapay: Any):
    """Issue item 4. 500 of a 990 order received, and the operator refunds the 500: the order used to move
    PENDING -> PAID -> REFUNDED (``order_status_changed(new_status="paid")`` sent, ``paid_at`` set) though the total
    never arrived. PAID only when the total arrived: straight to REFUNDED, no ``paid_at``, no ``order_paid``."""
    order, _checkout, payment_id = paid_at_orkestapay(fake_orkestapay)
    with fake_orkestapay.state.lock:  # 500 received: captured in the rich profile's payment, authorized in both
        fake_orkestapay.state.payment(payment_id).amount.update(captured=500, authorized=500)
    services.sync_order(order)
    assert Order.objects.get(pk=order.pk).review_code == ReviewCode.PARTIALLY_PAID

    with signal_log() as log:
        refund = services.refund_order(Order.objects.get(pk=order.pk))

    order.refresh_from_db()
    assert refund.amount == Decimal("500.00")
    assert order.status == OrderStatus.REFUNDED
    assert order.paid_at is None
    assert changes(log) == [(OrderStatus.PENDING, OrderStatus.REFUNDED)]
    assert "order_paid" not in log.names(order)
    [refunded] = log.of("order_refunded")
    assert (refunded["amount"], refunded["refunded"], refunded["left"]) == (
        Decimal("500.00"),
        Decimal("500.00"),
        Decimal("0.00"),
    )


# the portal's refund is mirrored from the payment's refunded amount, which only the rich profile shows
@pytest.mark.orkestapay_profile("rich")
def test_a_partial_payment_refunded_before_the_shop_heard_is_never_paid(orkestapay_settings: Any, fake_orkestapay: Any):
    """The same, heard late: 500 received and refunded in the portal before the first read."""
    order, _checkout, payment_id = paid_at_orkestapay(fake_orkestapay)
    with fake_orkestapay.state.lock:
        fake_orkestapay.state.payment(payment_id).amount["captured"] = 500
    fake_orkestapay.refund_from_portal(payment_id, 500)
    with signal_log() as log:
        services.sync_order(order)
    order.refresh_from_db()
    assert (order.status, order.paid_at) == (OrderStatus.REFUNDED, None)
    assert changes(log) == [(OrderStatus.PENDING, OrderStatus.REFUNDED)]
    assert [kw["left"] for kw in log.of("order_refunded")] == [Decimal("0.00")]


def test_money_that_no_longer_counts_unpays_the_order_and_tells_a_person(
    orkestapay_settings: Any, fake_orkestapay: Any
):
    """A paid order's attempt is found disputed later (OrkestaPay's order now says another total): its payment no
    longer counts, so the ledger says the order is not paid. The state machine has no way from PAID back; the
    ledger wins (pending, as a completed attempt without money that counts is), and a person is told."""
    order = make_paid_order(fake_orkestapay)
    checkout = order.checkouts.get()
    fake_orkestapay.tamper_order(checkout.orkestapay_order_id, total_amount=1990)
    with signal_log() as log:
        services.sync_order(Order.objects.get(pk=order.pk))
    order.refresh_from_db()
    assert Checkout.objects.get(pk=checkout.pk).disputed
    assert order.status == OrderStatus.PENDING
    assert changes(log) == [(OrderStatus.PAID, OrderStatus.PENDING)]
    assert ReviewCode.LEDGER_OVERRIDE in review_codes(log)
    assert "no longer" in order.review_reason


def test_a_refund_of_a_payment_that_no_longer_counts_unrefunds_the_order(
    client: Any, orkestapay_settings: Any, fake_orkestapay: Any
):
    """Paid on attempt 1 and refunded in part; the old tab of attempt 2 is paid too; then attempt 1 is found
    disputed. What counts is attempt 2's payment, unrefunded: PAID, from PARTIALLY_REFUNDED (which the state machine
    does not allow), flagged."""
    order = make_order()
    older, newer = older_and_newer(order)
    come_back(client, fake_orkestapay.pay(older.orkestapay_checkout_id))
    services.refund_order(Order.objects.get(pk=order.pk), amount=Decimal("100"))
    fake_orkestapay.pay(newer.orkestapay_checkout_id)
    services.sync_checkout(Checkout.objects.get(pk=newer.pk))  # (a paid order's return reads nothing)
    assert Order.objects.get(pk=order.pk).status == OrderStatus.PARTIALLY_REFUNDED
    fake_orkestapay.tamper_order(older.orkestapay_order_id, total_amount=1990)
    with signal_log() as log:
        services.sync_checkout(Checkout.objects.get(pk=older.pk))
    order.refresh_from_db()
    assert order.status == OrderStatus.PAID
    assert changes(log) == [(OrderStatus.PARTIALLY_REFUNDED, OrderStatus.PAID)]
    assert "order_paid" not in log.names(order)  # it never stopped being paid: nothing new to ship
    assert ReviewCode.LEDGER_OVERRIDE in review_codes(log)


@pytest.mark.parametrize("later_status", ["VOIDED", "CHARGEBACK", "REVERSED"])
def test_a_payment_reported_reversed_is_not_offered_for_refund(
    orkestapay_settings: Any, fake_orkestapay: Any, later_status: str
):
    """Issue item 8, confirmed: a completed payment that OrkestaPay later reports reversed (charged back, voided)
    stayed fully refundable: ``refundable_amount`` offered 990 and the admin's refund sent a request for money that
    is not there. The ledger keeps the payment completed (the money did arrive, and the order stays as it was) and
    flags it; nothing of it can be refunded while OrkestaPay says so."""
    order = make_paid_order(fake_orkestapay)
    payment = Payment.objects.get(order=order)
    with fake_orkestapay.state.lock:
        fake_orkestapay.state.payment(payment.orkestapay_payment_id).status = later_status
    services.sync_order(Order.objects.get(pk=order.pk))
    order.refresh_from_db()
    assert order.needs_review
    assert services.refundable_amount(order) == Decimal("0.00")
    assert services.refundable_amount_of(Payment.objects.get(pk=payment.pk)) == Decimal("0.00")
    with pytest.raises(RefundNotAllowedError):
        services.refund_order(order)
    assert fake_orkestapay.count_requests("POST", prefix="/v1/payments/") == 0

    with fake_orkestapay.state.lock:  # OrkestaPay says completed again (it was a glitch): refundable again
        fake_orkestapay.state.payment(payment.orkestapay_payment_id).status = "COMPLETED"
    services.sync_order(Order.objects.get(pk=order.pk))
    assert services.refundable_amount(Order.objects.get(pk=order.pk)) == Decimal("990.00")
