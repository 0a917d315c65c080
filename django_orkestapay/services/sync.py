"""Confirming orders with OrkestaPay's API: reading an attempt (its order and, when they matter, its payments),
the buyer's signed return, reconciliation of orders whose outcome may still change (open ones, and canceled,
failed or expired ones for ``RECONCILE_WINDOW``), and the expiry of checkouts past their time, which asks first.
What was read is applied by :mod:`.apply`."""

from __future__ import annotations

import logging
import uuid
from collections.abc import Iterable
from datetime import timedelta

from django.db import models
from django.db.models import Exists, OuterRef, Q
from django.utils import timezone

from .. import conf
from ..client import RemoteOrder
from ..exceptions import MalformedResponseError, OrkestaPayError
from ..models import PAID_STATUSES, Checkout, CheckoutStatus, Order, OrderStatus, Payment, PaymentStatus
from ..signing import CANCELED, ReturnLink
from .api_client import get_client
from .apply import AttemptRead, SyncResult, apply_reads
from .batch import BatchSummary, run_batch
from .derive import map_payment_status
from .throttle import claim_return_read

# One logger for the whole service layer, named as before the split, so a shop's logging configuration and its
# log filters keep working.
logger = logging.getLogger("django_orkestapay.services")

#: How OrkestaPay order statuses map to ours, for reading them (the order's status itself is derived from the
#: ledger). Anything not listed (CREATED, PROCESSING_PAYMENT, PAYMENT_ACTION_REQUIRED, statuses we have never
#: seen) counts as pending: never as paid.
REMOTE_STATUS_MAP: dict[str, str] = {
    "COMPLETED": OrderStatus.PAID,
    "CANCELED": OrderStatus.CANCELED,
    "CANCELLED": OrderStatus.CANCELED,
    "FAILED": OrderStatus.FAILED,
    "REJECTED": OrderStatus.FAILED,
    "EXPIRED": OrderStatus.EXPIRED,
    "PARTIALLY_REFUNDED": OrderStatus.PARTIALLY_REFUNDED,
    "REFUNDED": OrderStatus.REFUNDED,
}

#: OrkestaPay order statuses after which its payments need no listing, unless the order names a payment that may
#: be money (a failed payment is not).
_QUIET_REMOTE_STATUSES = frozenset({"CREATED", "CANCELED", "CANCELLED", "EXPIRED"})
_NOT_MONEY = frozenset({PaymentStatus.FAILED, PaymentStatus.CANCELED})
#: At most this many attempts of one order are read by one sync (newest first).
MAX_ATTEMPTS_READ = 10


def map_remote_status(remote_status: str) -> str:
    """Our status for an OrkestaPay order status (unknown means pending)."""
    return REMOTE_STATUS_MAP.get(remote_status.upper(), OrderStatus.PENDING)


def needs_payment_list(remote: RemoteOrder) -> bool:
    """Whether the order's payments must be listed: it is past CREATED (paid, in progress, refunded...), or it
    names a payment that is not known to have failed."""
    if remote.status not in _QUIET_REMOTE_STATUSES:
        return True
    embedded = {payment.payment_id: payment for payment in remote.payments}
    return any(
        payment_id not in embedded or map_payment_status(embedded[payment_id].status) not in _NOT_MONEY
        for payment_id in remote.payment_ids
    )


def read_attempt(checkout: Checkout) -> AttemptRead:
    """Read ``checkout``'s OrkestaPay order, and its payments when they matter (raises an
    :class:`OrkestaPayError`). An order without its total or currency is a :class:`MalformedResponseError`: an
    answer that cannot be compared with ours is applied not at all (never read as a disagreement)."""
    client = get_client()
    remote = client.get_order(checkout.orkestapay_order_id)
    missing = [
        name
        for name, absent in (("total_amount", remote.total_amount is None), ("currency", not remote.currency))
        if absent
    ]
    if missing:
        raise MalformedResponseError(
            f"{MalformedResponseError.default_message}: the order has no {' and no '.join(missing)}",
            status_code=200,
            method="GET",
            path=f"/v1/orders/{checkout.orkestapay_order_id}",
        )
    listed = client.get_order_payments(checkout.orkestapay_order_id) if needs_payment_list(remote) else []
    return AttemptRead(checkout=checkout, remote=remote, listed=tuple(listed))


def _record_failure(order_id: uuid.UUID, exc: OrkestaPayError) -> None:
    Order.objects.filter(pk=order_id).update(
        last_error=f"{timezone.now():%Y-%m-%d %H:%M:%S} confirming status: {exc}", updated_at=timezone.now()
    )
    logger.error("Order %s: status could not be confirmed: %s", order_id, exc)


def confirm_return(link: ReturnLink, *, reported_order_id: str | None = None) -> SyncResult:
    """Handle a buyer's signed return: ask the API for the attempt's real status and apply it.

    Bounded: an order in the paid family (paid, partially refunded, refunded) is final for a return and answered
    from the database; so is any order whose return already read the API within ``RETURN_SYNC_INTERVAL``
    (:func:`.throttle.claim_return_read`). Canceled, failed and expired orders are read (within the interval): a
    buyer who canceled, went back and paid, or whose second card went through after a decline, must see it.

    Raises ``Checkout.DoesNotExist`` when the link names no checkout of ours and an :class:`OrkestaPayError` when
    the API cannot be asked (the order is left unchanged; the buyer can reload).
    """
    checkout = Checkout.objects.select_related("order").get(pk=link.checkout_id, order_id=link.order_id)
    if reported_order_id and reported_order_id != checkout.orkestapay_order_id:
        logger.warning(
            "Order %s: return carried order_id=%r, ours is %r; using ours",
            checkout.order.merchant_order_id,
            reported_order_id[:80],
            checkout.orkestapay_order_id,
        )
    order = checkout.order
    if order.status in PAID_STATUSES or not claim_return_read(order.pk):
        return SyncResult(order=order, changed=False, remote_status=order.remote_status, flagged=order.needs_review)
    return sync_checkout(checkout, canceled_by_buyer=link.side == CANCELED)


def poll_order(order: Order) -> Order:
    """The order as a front end polling a pending payment should see it: a PENDING order is read from the API at
    most once per ``RETURN_SYNC_INTERVAL`` (shared with the returns, :func:`.throttle.claim_return_read`); every
    other order, a read inside the interval, and a read that fails (recorded on the order) answer from the
    database."""
    if order.status != OrderStatus.PENDING or not claim_return_read(order.pk):
        return order
    try:
        return sync_order(order).order
    except OrkestaPayError:
        return order


def sync_checkout(checkout: Checkout, *, canceled_by_buyer: bool = False) -> SyncResult:
    """Read ``checkout``'s OrkestaPay order (and payments) and apply it. ``canceled_by_buyer`` (the cancel link)
    closes this attempt, unless the read shows a payment on it in progress or completed; the order's status then
    comes from all its attempts, so another open, pending or paid attempt keeps it pending or paid."""
    return _sync_checkout(checkout, close_as=CheckoutStatus.CANCELED if canceled_by_buyer else None)


def _sync_checkout(checkout: Checkout, *, close_as: str | None) -> SyncResult:
    if not checkout.orkestapay_order_id:
        return SyncResult(order=checkout.order, changed=False, remote_status="")
    try:
        read = read_attempt(checkout)
    except OrkestaPayError as exc:
        _record_failure(checkout.order_id, exc)
        raise
    close = (checkout.pk, close_as) if close_as else None
    return apply_reads(checkout.order_id, [read], close=close)


def sync_order(order: Order) -> SyncResult:
    """Confirm ``order`` with the API through every attempt whose outcome may still change (newest first, at most
    :data:`MAX_ATTEMPTS_READ`): open and pending ones; for an unpaid order, closed ones too (late money on an
    attempt closed here); for a paid one, those with completed payments (to see refunds made elsewhere) and those
    closed within ``RECONCILE_WINDOW`` (a second payment on an old tab, its webhook lost).

    What could be read is applied; then the first failure, if any, is recorded on the order and raised.
    """
    completed = Payment.objects.filter(checkout=OuterRef("pk"), status=PaymentStatus.COMPLETED)
    attempts = (
        order.checkouts.exclude(orkestapay_order_id="")
        .exclude(status=CheckoutStatus.FAILED)
        .annotate(has_money=Exists(completed))
        .order_by("-created_at")[:MAX_ATTEMPTS_READ]
    )
    paid = order.status in PAID_STATUSES
    recently = timezone.now() - _window()
    wanted = [
        checkout
        for checkout in attempts
        if not paid
        or checkout.status in (CheckoutStatus.OPEN, CheckoutStatus.PENDING)
        or getattr(checkout, "has_money", False)
        or checkout.updated_at >= recently  # closed within the window: a second payment may still land on it
    ]
    reads, failure = [], None
    for checkout in wanted:
        try:
            reads.append(read_attempt(checkout))
        except OrkestaPayError as exc:
            failure = failure or exc
    result = SyncResult(order=order, changed=False, remote_status="")
    if reads:
        result = apply_reads(order.pk, reads)
    if failure is not None:  # what was read is applied; the order still says what could not be read
        _record_failure(order.pk, failure)
        raise failure
    return result


def sync_orders(orders: Iterable[Order]) -> BatchSummary:
    """Sync several orders. Failures are logged and recorded on each order, and counted."""
    return run_batch(orders, sync_order)


def _window() -> timedelta:
    return timedelta(seconds=float(conf.get("RECONCILE_WINDOW")))


def orders_to_reconcile(*, older_than: timedelta = timedelta(0)) -> models.QuerySet[Order]:
    """Orders whose outcome we may not know yet, with a registered checkout: created or pending ones, and canceled,
    failed or expired ones whose status changed within ``RECONCILE_WINDOW`` (a bank transfer that settles after
    the buyer gave up, its webhook lost, still lands), and paid ones (paid, partially refunded, refunded) whose
    status changed within it (a second payment on another attempt, its webhook lost)."""
    cutoff = timezone.now() - _window()
    closed = [OrderStatus.CANCELED, OrderStatus.FAILED, OrderStatus.EXPIRED, *PAID_STATUSES]
    recently_closed = Q(status__in=closed) & (
        Q(status_changed_at__gte=cutoff) | Q(status_changed_at__isnull=True, updated_at__gte=cutoff)
    )
    return (
        Order.objects.filter(Q(status__in=[OrderStatus.CREATED, OrderStatus.PENDING]) | recently_closed)
        .filter(created_at__lte=timezone.now() - older_than)
        .exclude(orkestapay_order_id="")
        .order_by("created_at")
    )


def expire_checkouts() -> BatchSummary:
    """Close open checkouts past their ``expires_at``, each after reading it from the API: one that turns out paid
    or with a payment in progress (a SPEI transfer) is left to that; the others are marked expired, and the order's
    status is derived again (expired when no other attempt is open, pending or paid)."""
    due = Checkout.objects.filter(status=CheckoutStatus.OPEN, expires_at__lte=timezone.now()).select_related("order")
    return run_batch(due, lambda checkout: _sync_checkout(checkout, close_as=CheckoutStatus.EXPIRED))
