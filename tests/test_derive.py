"""The status derivation, pure: tables of ledgers (payments, refunds, attempts) and the status and reviews they give.
No database: the rows are built in memory, which is all ``derive_status`` and ``checkout_status`` may look at."""

from __future__ import annotations

from datetime import timedelta
from decimal import Decimal

import pytest
from django.utils import timezone

from django_orkestapay.models import (
    Checkout,
    CheckoutStatus,
    Order,
    OrderStatus,
    Payment,
    PaymentStatus,
    Refund,
    RefundStatus,
    ReviewCode,
)
from django_orkestapay.services import derive_status, map_payment_status
from django_orkestapay.services.derive import DISPUTED_PREFIX, checkout_status

NOW = timezone.now()
ORDER = Order(merchant_order_id="T-1", currency="MXN", total_amount=Decimal("990.00"))


def attempt(
    status: str = CheckoutStatus.OPEN, *, minutes: int = 0, error: str = "", ork: str = "ord_x", disputed: bool = False
) -> Checkout:
    return Checkout(
        order=ORDER,
        status=status,
        created_at=NOW + timedelta(minutes=minutes),
        error=error,
        orkestapay_order_id=ork,
        disputed=disputed,
    )


def pay(
    checkout: Checkout | None,
    status: str = PaymentStatus.COMPLETED,
    amount: str = "990",
    *,
    currency: str = "MXN",
    pid: str = "pay_a",
    minutes: int = 0,
) -> Payment:
    return Payment(
        order=ORDER,
        checkout=checkout,
        orkestapay_payment_id=pid,
        status=status,
        amount=Decimal(amount),
        currency=currency,
        created_at=NOW + timedelta(minutes=minutes),
        completed_at=NOW + timedelta(minutes=minutes) if status == PaymentStatus.COMPLETED else None,
    )


def refund(payment: Payment, amount: str, status: str = RefundStatus.SUCCEEDED) -> Refund:
    return Refund(order=ORDER, payment=payment, amount=Decimal(amount), status=status)


# --- money received -----------------------------------------------------------------------------------------


def test_one_completed_payment_covering_the_total_is_paid():
    a = attempt(CheckoutStatus.COMPLETED)
    derived = derive_status(ORDER, [pay(a)], [], [a])
    assert (derived.status, derived.received, derived.reviews) == (OrderStatus.PAID, Decimal("990"), ())
    assert [p.orkestapay_payment_id for p in derived.counted] == ["pay_a"]


@pytest.mark.parametrize(
    ("refunds", "expected"),
    [
        ([("100", RefundStatus.SUCCEEDED)], OrderStatus.PARTIALLY_REFUNDED),
        ([("990", RefundStatus.SUCCEEDED)], OrderStatus.REFUNDED),
        ([("500", RefundStatus.SUCCEEDED), ("490", RefundStatus.SUCCEEDED)], OrderStatus.REFUNDED),
        ([("990", RefundStatus.PENDING)], OrderStatus.PAID),  # in flight: not refunded yet
        ([("990", RefundStatus.REQUESTED)], OrderStatus.PAID),
        ([("990", RefundStatus.FAILED)], OrderStatus.PAID),
    ],
)
def test_refund_statuses_come_from_succeeded_refunds(refunds, expected):
    a = attempt(CheckoutStatus.COMPLETED)
    payment = pay(a)
    derived = derive_status(ORDER, [payment], [refund(payment, amount, status) for amount, status in refunds], [a])
    assert derived.status == expected


def test_a_second_completed_payment_is_paid_twice_and_listed():
    first, second = attempt(CheckoutStatus.COMPLETED), attempt(CheckoutStatus.COMPLETED, minutes=5)
    later = pay(second, pid="pay_b", minutes=5)
    derived = derive_status(ORDER, [later, pay(first)], [], [first, second])
    assert derived.status == OrderStatus.PAID
    assert [p.orkestapay_payment_id for p in derived.counted] == ["pay_a", "pay_b"]  # oldest first
    assert [(r.code, r.reason) for r in derived.reviews] == [
        (ReviewCode.PAID_TWICE, "paid twice: pay_a 990.00 MXN, pay_b 990.00 MXN")
    ]


def test_two_payments_adding_up_to_the_total_are_still_flagged():
    first, second = attempt(CheckoutStatus.COMPLETED), attempt(CheckoutStatus.COMPLETED, minutes=5)
    payments = [pay(first, amount="500"), pay(second, amount="490", pid="pay_b", minutes=5)]
    derived = derive_status(ORDER, payments, [], [first, second])
    assert (derived.status, derived.received) == (OrderStatus.PAID, Decimal("990"))
    assert [(r.code, r.reason) for r in derived.reviews] == [
        (ReviewCode.PAID_TWICE, "paid twice: pay_a 500.00 MXN, pay_b 490.00 MXN")
    ]


def test_more_than_the_total_in_one_payment_is_paid_twice_too():
    a = attempt(CheckoutStatus.COMPLETED)
    derived = derive_status(ORDER, [pay(a, amount="1980")], [], [a])
    assert derived.status == OrderStatus.PAID
    assert [r.code for r in derived.reviews] == [ReviewCode.PAID_TWICE]


def test_one_of_two_payments_refunded_is_partially_refunded():
    first, second = attempt(CheckoutStatus.COMPLETED), attempt(CheckoutStatus.COMPLETED, minutes=5)
    a, b = pay(first), pay(second, pid="pay_b", minutes=5)
    assert derive_status(ORDER, [a, b], [refund(b, "990")], [first, second]).status == OrderStatus.PARTIALLY_REFUNDED


@pytest.mark.parametrize(
    ("refunded", "expected"), [(None, OrderStatus.PENDING), ("100", OrderStatus.PENDING), ("500", OrderStatus.REFUNDED)]
)
def test_less_than_the_total_is_partially_paid_and_still_pending(refunded, expected):
    a = attempt(CheckoutStatus.COMPLETED)
    payment = pay(a, amount="500")
    derived = derive_status(ORDER, [payment], [refund(payment, refunded)] if refunded else [], [a])
    assert derived.status == expected
    assert [(r.code, r.reason) for r in derived.reviews] == [
        (ReviewCode.PARTIALLY_PAID, "partially paid: 500.00 of 990.00 MXN")
    ]


def test_a_payment_in_another_currency_does_not_count_and_is_flagged():
    a = attempt(CheckoutStatus.COMPLETED)
    derived = derive_status(ORDER, [pay(a, currency="USD")], [], [a])
    assert derived.status == OrderStatus.PENDING
    assert derived.received == 0
    assert [(r.code, r.reason) for r in derived.reviews] == [
        (ReviewCode.AMOUNT_MISMATCH, "paid in another currency than MXN: pay_a 990.00 USD")
    ]


def test_payments_on_a_disputed_attempt_do_not_count():
    disputed = attempt(
        CheckoutStatus.COMPLETED, disputed=True, error=DISPUTED_PREFIX + "amount: OrkestaPay 1.00, ours 990.00"
    )
    derived = derive_status(ORDER, [pay(disputed)], [], [disputed])
    assert derived.status == OrderStatus.PENDING
    assert derived.received == Decimal("0")
    assert not derived.counted


def test_refunds_of_payments_that_do_not_count_are_not_counted_either():
    disputed = attempt(CheckoutStatus.COMPLETED, disputed=True, error=DISPUTED_PREFIX + "currency")
    good = attempt(CheckoutStatus.COMPLETED, minutes=5)
    refunded_elsewhere = pay(disputed, pid="pay_disputed")
    derived = derive_status(
        ORDER, [refunded_elsewhere, pay(good)], [refund(refunded_elsewhere, "990")], [disputed, good]
    )
    assert derived.status == OrderStatus.PAID
    assert derived.refunded == Decimal("0")


@pytest.mark.parametrize("status", [PaymentStatus.FAILED, PaymentStatus.CANCELED, PaymentStatus.PENDING])
def test_only_completed_payments_are_money(status):
    a = attempt(CheckoutStatus.OPEN)
    assert derive_status(ORDER, [pay(a, status)], [], [a]).received == 0


# --- nothing received ---------------------------------------------------------------------------------------


@pytest.mark.parametrize(
    ("attempts", "payments", "expected"),
    [
        ([], [], OrderStatus.CREATED),
        ([(CheckoutStatus.FAILED, "")], [], OrderStatus.CREATED),  # never registered with OrkestaPay
        ([(CheckoutStatus.OPEN, "ord_1")], [], OrderStatus.PENDING),
        ([(CheckoutStatus.CANCELED, "ord_1")], [], OrderStatus.CANCELED),
        ([(CheckoutStatus.DECLINED, "ord_1")], [], OrderStatus.FAILED),
        ([(CheckoutStatus.EXPIRED, "ord_1")], [], OrderStatus.EXPIRED),
        # a transfer in progress keeps the order pending while its attempt is open or pending...
        ([(CheckoutStatus.PENDING, "ord_1")], [PaymentStatus.PENDING], OrderStatus.PENDING),
        ([(CheckoutStatus.OPEN, "ord_1")], [PaymentStatus.AUTHORIZED], OrderStatus.PENDING),
        # ... but not once the attempt is closed: checkout_status closes an attempt with a payment in progress only
        # when OrkestaPay closed its order (expired, canceled), and then the payment can no longer finish there
        ([(CheckoutStatus.EXPIRED, "ord_1")], [PaymentStatus.PENDING], OrderStatus.EXPIRED),
        ([(CheckoutStatus.CANCELED, "ord_1")], [PaymentStatus.AUTHORIZED], OrderStatus.CANCELED),
        ([(CheckoutStatus.CANCELED, "ord_1")], [PaymentStatus.FAILED], OrderStatus.CANCELED),
        # the most recent closed attempt decides (FAILED-to-create attempts are skipped)
        ([(CheckoutStatus.CANCELED, "ord_1"), (CheckoutStatus.EXPIRED, "ord_2")], [], OrderStatus.EXPIRED),
        ([(CheckoutStatus.EXPIRED, "ord_1"), (CheckoutStatus.CANCELED, "ord_2")], [], OrderStatus.CANCELED),
        ([(CheckoutStatus.DECLINED, "ord_1"), (CheckoutStatus.FAILED, "")], [], OrderStatus.FAILED),
        # a stale CANCELED from an older attempt never cancels while another one is open or pending
        ([(CheckoutStatus.CANCELED, "ord_1"), (CheckoutStatus.OPEN, "ord_2")], [], OrderStatus.PENDING),
        ([(CheckoutStatus.PENDING, "ord_1"), (CheckoutStatus.CANCELED, "ord_2")], [], OrderStatus.PENDING),
    ],
)
def test_without_money_the_attempts_decide(attempts, payments, expected):
    checkouts = [attempt(status, minutes=index, ork=ork) for index, (status, ork) in enumerate(attempts)]
    rows = [pay(checkouts[0], status, pid=f"pay_{index}") for index, status in enumerate(payments)]
    assert derive_status(ORDER, rows, [], checkouts).status == expected


def test_an_open_attempt_past_its_expiry_no_longer_keeps_the_order_pending():
    expired_here = attempt(CheckoutStatus.OPEN)
    expired_here.expires_at = NOW - timedelta(minutes=1)
    canceled = attempt(CheckoutStatus.CANCELED, minutes=5)
    assert derive_status(ORDER, [], [], [expired_here, canceled], now=NOW).status == OrderStatus.CANCELED
    assert derive_status(ORDER, [], [], [expired_here], now=NOW).status == OrderStatus.PENDING  # the sweep decides
    assert derive_status(ORDER, [], [], [expired_here, canceled]).status == OrderStatus.PENDING  # no time: open
    expired_here.expires_at = NOW + timedelta(minutes=1)
    assert derive_status(ORDER, [], [], [expired_here, canceled], now=NOW).status == OrderStatus.PENDING


# --- an attempt's status ------------------------------------------------------------------------------------


@pytest.mark.parametrize(
    ("current", "remote", "payments", "expected"),
    [
        (CheckoutStatus.OPEN, "CREATED", [], CheckoutStatus.OPEN),
        (CheckoutStatus.OPEN, "SOMETHING_NEW", [], CheckoutStatus.OPEN),
        (CheckoutStatus.OPEN, "COMPLETED", [], CheckoutStatus.COMPLETED),
        (CheckoutStatus.OPEN, "REFUNDED", [], CheckoutStatus.COMPLETED),
        (CheckoutStatus.OPEN, "CANCELED", [], CheckoutStatus.CANCELED),
        (CheckoutStatus.OPEN, "REJECTED", [], CheckoutStatus.DECLINED),
        (CheckoutStatus.OPEN, "FAILED", [], CheckoutStatus.DECLINED),
        (CheckoutStatus.OPEN, "EXPIRED", [], CheckoutStatus.EXPIRED),
        (CheckoutStatus.OPEN, "PAYMENT_ACTION_REQUIRED", [], CheckoutStatus.PENDING),
        (CheckoutStatus.OPEN, "CREATED", [PaymentStatus.FAILED], CheckoutStatus.OPEN),  # declined, may retry
        # a transfer started before we closed the attempt here: pending again
        (CheckoutStatus.EXPIRED, "PAYMENT_ACTION_REQUIRED", [PaymentStatus.PENDING], CheckoutStatus.PENDING),
        (CheckoutStatus.CANCELED, "CREATED", [PaymentStatus.PENDING], CheckoutStatus.PENDING),
        # OrkestaPay's final status of the order wins over a payment that still says it is in progress (a SPEI
        # reference never paid: the order expired, the payment stays PAYMENT_ACTION_REQUIRED)
        (CheckoutStatus.PENDING, "EXPIRED", [PaymentStatus.PENDING], CheckoutStatus.EXPIRED),
        (CheckoutStatus.OPEN, "CANCELED", [PaymentStatus.AUTHORIZED], CheckoutStatus.CANCELED),
        (CheckoutStatus.PENDING, "FAILED", [PaymentStatus.PENDING], CheckoutStatus.DECLINED),
        # late money moves a closed attempt to completed
        (CheckoutStatus.CANCELED, "COMPLETED", [PaymentStatus.COMPLETED], CheckoutStatus.COMPLETED),
        (CheckoutStatus.EXPIRED, "EXPIRED", [PaymentStatus.COMPLETED], CheckoutStatus.COMPLETED),
        (CheckoutStatus.DECLINED, "CREATED", [PaymentStatus.FAILED, PaymentStatus.COMPLETED], CheckoutStatus.COMPLETED),
        # closed here, OrkestaPay still says CREATED: it stays closed; an attempt only "in progress" reopens
        (CheckoutStatus.CANCELED, "CREATED", [], CheckoutStatus.CANCELED),
        (CheckoutStatus.PENDING, "CREATED", [PaymentStatus.FAILED], CheckoutStatus.OPEN),
        # completed and failed-to-create attempts never change
        (CheckoutStatus.COMPLETED, "CANCELED", [], CheckoutStatus.COMPLETED),
        (CheckoutStatus.FAILED, "COMPLETED", [], CheckoutStatus.FAILED),
    ],
)
def test_checkout_status_from_the_remote_order_and_its_payments(current, remote, payments, expected):
    rows = [pay(None, status, pid=f"pay_{index}") for index, status in enumerate(payments)]
    assert checkout_status(current, remote, rows) == expected


@pytest.mark.parametrize(
    ("remote", "expected"),
    [
        ("COMPLETED", PaymentStatus.COMPLETED),
        ("partially_refunded", PaymentStatus.COMPLETED),
        ("REFUNDED", PaymentStatus.COMPLETED),
        ("CAPTURED", PaymentStatus.COMPLETED),
        ("AUTHORIZED", PaymentStatus.AUTHORIZED),
        ("REJECTED", PaymentStatus.FAILED),
        ("DECLINED", PaymentStatus.FAILED),
        ("VOIDED", PaymentStatus.CANCELED),
        ("CANCELLED", PaymentStatus.CANCELED),
        ("PAYMENT_ACTION_REQUIRED", PaymentStatus.PENDING),
        ("PROCESSING", PaymentStatus.PENDING),
        ("SOMETHING_NEW", PaymentStatus.PENDING),
    ],
)
def test_payment_status_mapping(remote, expected):
    assert map_payment_status(remote) == expected
