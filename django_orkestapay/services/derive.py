"""Status derivation, pure: what an order's status is, given its ledger (payments, refunds) and its attempts
(checkouts), and what an attempt's status is, given what OrkestaPay reports about its order and payments.

No queries and no HTTP here: every function takes the rows (or the values) and returns a verdict, so each rule is
unit-tested on tables of cases. :mod:`.apply` loads the rows under the order's lock and applies the verdict.
"""

from __future__ import annotations

from collections.abc import Iterable, Sequence
from dataclasses import dataclass
from datetime import datetime
from decimal import Decimal

from ..models import (
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

CENT = Decimal("0.01")

#: How OrkestaPay payment statuses map to ours. Anything not listed (PAYMENT_ACTION_REQUIRED, PROCESSING,
#: PENDING, CREATED, statuses never seen) is pending: never money, never a failure.
PAYMENT_STATUS_MAP: dict[str, str] = {
    "COMPLETED": PaymentStatus.COMPLETED,
    "PARTIALLY_REFUNDED": PaymentStatus.COMPLETED,
    "REFUNDED": PaymentStatus.COMPLETED,
    "PAID": PaymentStatus.COMPLETED,
    "CAPTURED": PaymentStatus.COMPLETED,
    "AUTHORIZED": PaymentStatus.AUTHORIZED,
    "FAILED": PaymentStatus.FAILED,
    "REJECTED": PaymentStatus.FAILED,
    "DECLINED": PaymentStatus.FAILED,
    "CANCELED": PaymentStatus.CANCELED,
    "CANCELLED": PaymentStatus.CANCELED,
    "VOIDED": PaymentStatus.CANCELED,
}

#: Payment statuses only move up this ladder (a completed payment never becomes pending or failed again).
PAYMENT_STATUS_RANK: dict[str, int] = {
    PaymentStatus.PENDING: 0,
    PaymentStatus.AUTHORIZED: 1,
    PaymentStatus.FAILED: 2,
    PaymentStatus.CANCELED: 2,
    PaymentStatus.COMPLETED: 3,
}

#: Payments whose outcome is still open: the buyer may yet pay (or be charged).
IN_PROGRESS_PAYMENTS = frozenset({PaymentStatus.PENDING, PaymentStatus.AUTHORIZED})

#: OrkestaPay order statuses meaning money was received (refunds are tracked in the ledger).
REMOTE_PAID = frozenset({"COMPLETED", "PARTIALLY_REFUNDED", "REFUNDED", "PAID"})
#: OrkestaPay order statuses that say a payment is under way although no payment may be listed yet.
REMOTE_IN_PROGRESS = frozenset({"PAYMENT_ACTION_REQUIRED", "PROCESSING_PAYMENT", "PROCESSING", "PARTIALLY_PAID"})
_REMOTE_CLOSED = {
    "CANCELED": CheckoutStatus.CANCELED,
    "CANCELLED": CheckoutStatus.CANCELED,
    "FAILED": CheckoutStatus.DECLINED,
    "REJECTED": CheckoutStatus.DECLINED,
    "DECLINED": CheckoutStatus.DECLINED,
    "EXPIRED": CheckoutStatus.EXPIRED,
}
#: The order status the most recent closed attempt stands for when no money was received.
_ORDER_STATUS_FOR_ATTEMPT = {
    CheckoutStatus.CANCELED: OrderStatus.CANCELED,
    CheckoutStatus.DECLINED: OrderStatus.FAILED,
    CheckoutStatus.EXPIRED: OrderStatus.EXPIRED,
    CheckoutStatus.COMPLETED: OrderStatus.PENDING,  # completed, yet no payment counts (a disputed attempt): review
}

#: The start of ``Checkout.error`` on an attempt found disputed (``Checkout.disputed``), for the admin to read.
DISPUTED_PREFIX = "OrkestaPay's order disagrees with ours: "


def map_payment_status(remote_status: str) -> str:
    """Our :class:`PaymentStatus` for an OrkestaPay payment status (unknown means pending)."""
    return PAYMENT_STATUS_MAP.get(remote_status.strip().upper(), PaymentStatus.PENDING)


#: OrkestaPay statuses a completed payment may still be reported with while the API catches up: not a reversal.
_LAGGING_STATUSES = frozenset(
    {"PENDING", "PROCESSING", "PROCESSING_PAYMENT", "PAYMENT_ACTION_REQUIRED", "CREATED", "AUTHORIZED"}
)


def reverses_payment(remote_status: str) -> bool:
    """Whether a completed payment reported with ``remote_status`` says the money is not there (voided, canceled,
    failed, charged back, or a status never seen), rather than an answer that lags behind."""
    status = remote_status.strip().upper()
    return bool(status) and map_payment_status(status) != PaymentStatus.COMPLETED and status not in _LAGGING_STATUSES


def is_reversed(payment: Payment) -> bool:
    """Whether OrkestaPay now reports ``payment``, completed in the ledger, reversed (charged back, voided): the
    ledger keeps it completed (the money did arrive) and the order is flagged, but nothing of it can be refunded."""
    return payment.status == PaymentStatus.COMPLETED and reverses_payment(payment.remote_status)


def is_disputed(checkout: Checkout) -> bool:
    """Whether ``checkout``'s OrkestaPay order was found to disagree with our order."""
    return checkout.disputed and checkout.status != CheckoutStatus.FAILED


def checkout_status(current: str, remote_status: str, payments: Iterable[Payment]) -> str:
    """An attempt's status from its OrkestaPay order's status and the payments on it.

    Money received wins (a late payment moves a closed attempt to COMPLETED); then OrkestaPay's final statuses of
    the order (EXPIRED, CANCELED, FAILED: no payment on it can finish any more, whatever the payment still says);
    then a payment in progress (PENDING, even when the attempt was closed locally). CREATED and unknown statuses
    change nothing (an attempt that was only *in progress* reopens). COMPLETED and FAILED (could not be created)
    never change.
    """
    if current in (CheckoutStatus.COMPLETED, CheckoutStatus.FAILED):
        return current
    statuses = {payment.status for payment in payments}
    remote = remote_status.strip().upper()
    if PaymentStatus.COMPLETED in statuses or remote in REMOTE_PAID:
        return CheckoutStatus.COMPLETED
    if remote in _REMOTE_CLOSED:
        return _REMOTE_CLOSED[remote]
    if statuses & IN_PROGRESS_PAYMENTS or remote in REMOTE_IN_PROGRESS:
        return CheckoutStatus.PENDING
    return CheckoutStatus.OPEN if current == CheckoutStatus.PENDING else current


@dataclass(frozen=True)
class Review:
    """A reason for a person to look at an order: a :class:`ReviewCode` and one line of text."""

    code: str
    reason: str


@dataclass(frozen=True)
class Derived:
    """What an order's ledger says: its status, the completed payments that pay it (oldest first), what they add
    up to, what was refunded of them, and the reviews the ledger calls for."""

    status: str
    counted: tuple[Payment, ...] = ()
    received: Decimal = Decimal("0.00")
    refunded: Decimal = Decimal("0.00")
    reviews: tuple[Review, ...] = ()


def _money(payment: Payment, currency: str) -> str:
    return f"{payment.orkestapay_payment_id} {Decimal(payment.amount).quantize(CENT)} {payment.currency or currency}"


def derive_status(
    order: Order,
    payments: Sequence[Payment],
    refunds: Sequence[Refund],
    checkouts: Sequence[Checkout],
    *,
    now: datetime | None = None,
) -> Derived:
    """The order's status from its ledger and attempts (pure: the rows, and the time, are passed in).

    received = completed payments in the order's currency, on attempts that are not disputed; refunded = succeeded
    refunds of those payments. Received >= total: PAID, PARTIALLY_REFUNDED or REFUNDED (more than the total, or
    several completed payments: review ``paid_twice``). Less than the total: PENDING (review ``partially_paid``),
    or REFUNDED once all of it was refunded. Nothing: PENDING while a payment is in progress or an attempt is
    pending or open (a payment in progress on an attempt OrkestaPay closed does not count; an open attempt past
    its ``expires_at`` at ``now`` does not either: the expiry sweep reads it,
    and money that still arrives on it lands all the same); CREATED when no attempt was registered; else what the
    most recent closed attempt says.
    """
    currency = order.currency.upper()
    disputed = {checkout.pk for checkout in checkouts if is_disputed(checkout)}
    completed = [p for p in payments if p.status == PaymentStatus.COMPLETED and p.checkout_id not in disputed]
    foreign = [p for p in completed if p.currency and p.currency.upper() != currency]
    counted = sorted(
        (p for p in completed if p not in foreign), key=lambda p: (p.completed_at or p.created_at, p.created_at)
    )
    counted_ids = {p.pk for p in counted}
    received = sum((Decimal(p.amount) for p in counted), start=Decimal("0.00"))
    refunded = sum(
        (Decimal(r.amount) for r in refunds if r.status == RefundStatus.SUCCEEDED and r.payment_id in counted_ids),
        start=Decimal("0.00"),
    )
    reviews = []
    if foreign:
        listed = ", ".join(_money(p, currency) for p in foreign)
        reviews.append(Review(ReviewCode.AMOUNT_MISMATCH, f"paid in another currency than {currency}: {listed}"))
    total = Decimal(order.total_amount)
    if received > total or len(counted) > 1:
        reviews.append(Review(ReviewCode.PAID_TWICE, "paid twice: " + ", ".join(_money(p, currency) for p in counted)))
    elif 0 < received < total:
        reviews.append(
            Review(ReviewCode.PARTIALLY_PAID, f"partially paid: {received.quantize(CENT)} of {total} {currency}")
        )
    status: str
    if received > 0 and refunded >= received:
        status = OrderStatus.REFUNDED
    elif received >= total and received > 0:
        status = OrderStatus.PARTIALLY_REFUNDED if refunded > 0 else OrderStatus.PAID
    elif received > 0:
        status = OrderStatus.PENDING  # partially paid: the rest is still owed
    else:
        status = _status_without_money(payments, checkouts, now)
    return Derived(status, tuple(counted), received, refunded, tuple(reviews))


def _is_live(checkout: Checkout, now: datetime | None) -> bool:
    if checkout.status == CheckoutStatus.PENDING:
        return True
    if checkout.status != CheckoutStatus.OPEN:
        return False
    return now is None or checkout.expires_at is None or checkout.expires_at > now


def _status_without_money(payments: Sequence[Payment], checkouts: Sequence[Checkout], now: datetime | None) -> str:
    # A payment in progress counts only on an attempt still open or pending: once OrkestaPay closed its order
    # (expired, canceled), the payment can no longer finish there.
    ended = {c.pk for c in checkouts if c.status not in (CheckoutStatus.OPEN, CheckoutStatus.PENDING)}
    if any(p.status in IN_PROGRESS_PAYMENTS and p.checkout_id not in ended for p in payments):
        return OrderStatus.PENDING
    if any(_is_live(c, now) for c in checkouts):
        return OrderStatus.PENDING
    closed = [c for c in checkouts if c.status != CheckoutStatus.FAILED and c.orkestapay_order_id]
    if not closed:
        return OrderStatus.CREATED
    latest = max((c for c in closed if c.status != CheckoutStatus.OPEN), key=lambda c: c.created_at, default=None)
    if latest is None:  # only attempts open past their expiry: the sweep will read and close them
        return OrderStatus.PENDING
    return _ORDER_STATUS_FOR_ATTEMPT.get(CheckoutStatus(latest.status), OrderStatus.PENDING)
