"""Confirming orders with OrkestaPay's API: reading an attempt (its order and, when they matter, its payments),
the buyer's signed return, reconciliation of orders whose outcome may still change (open ones, and canceled,
failed or expired ones for ``RECONCILE_WINDOW``), and the expiry of checkouts past their time, which asks first.
What was read is applied by :mod:`.apply`."""

from __future__ import annotations

import logging
import uuid
from collections.abc import Iterable
from datetime import timedelta

from django.db import models, transaction
from django.db.models import Exists, OuterRef, Q
from django.utils import timezone

from .. import conf
from ..exceptions import OrkestaPayError, is_unusable_answer
from ..models import PAID_STATUSES, Checkout, CheckoutStatus, Order, OrderStatus, Payment, PaymentStatus, ReviewCode
from ..signing import CANCELED, ReturnLink
from .api_client import get_client
from .apply import SyncResult, apply_reads
from .attempts import AttemptRead
from .batch import BatchSummary, run_batch
from .locking import lock_order
from .throttle import POLL, RETURN, claim_return_read
from .transitions import flag_review

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

#: At most this many attempts of one order are read by one sync (the newest first): every open or pending one, and
#: the closed ones whose outcome may still change (see :func:`sync_order`).
MAX_ATTEMPTS_READ = 50


def map_remote_status(remote_status: str) -> str:
    """Our status for an OrkestaPay order status (unknown means pending)."""
    return REMOTE_STATUS_MAP.get(remote_status.upper(), OrderStatus.PENDING)


def read_attempt(checkout: Checkout, *, payment_ids: Iterable[str] = ()) -> AttemptRead:
    """Read ``checkout``'s OrkestaPay order with its payments, each completed from its own read where the list
    lacks it (:meth:`~django_orkestapay.client.OrkestaPayClient.read_order`: one round trip when the list is whole
    or ``payment_ids`` names the payments, two otherwise). Raises an :class:`OrkestaPayError` when the order itself
    cannot be read; what else could not be used is in the read's ``problems`` (flagged when applied)."""
    read = get_client().read_order(checkout.orkestapay_order_id, payment_ids=payment_ids)
    return AttemptRead(
        checkout=checkout, remote=read.order, listed=read.payments, problems=read.order.problems + read.problems
    )


def record_failure(order_id: uuid.UUID, exc: OrkestaPayError) -> None:
    """Record on the order that it could not be confirmed. An answer we cannot use (not an outage) also flags it
    for a person, the answer kept in ``last_error``: asking again at once would get the same answer."""
    now = timezone.now()
    error = f"{now:%Y-%m-%d %H:%M:%S} confirming status: {exc}"
    if not is_unusable_answer(exc):
        Order.objects.filter(pk=order_id).update(last_error=error, updated_at=now)
        logger.error("Order %s: status could not be confirmed: %s", order_id, exc)
        return
    logger.error("Order %s: status could not be confirmed (an answer we cannot use; flagged): %s", order_id, exc)
    body = exc.response_body if exc.response_body is not None else ""
    with transaction.atomic():
        order = lock_order(order_id)
        flag_review(
            order,
            ReviewCode.MALFORMED_ANSWER,
            f"OrkestaPay's answer to {exc.method or 'a read'} {exc.path or ''} could not be used: {exc.message}",
        )
        order.last_error = f"{error} | the answer: {str(body)[:1500]}"
        order.save(update_fields=["needs_review", "review_code", "review_reason", "last_error", "updated_at"])


def confirm_return(
    link: ReturnLink, *, reported_order_id: str | None = None, reported_payment_id: str | None = None
) -> SyncResult:
    """Handle a buyer's signed return: ask the API for the attempt's real status and apply it.

    Bounded: a return whose own attempt is known final (completed, or never created) while the order is in the paid
    family (paid, partially refunded, refunded) is answered from the database; so is any order whose return already
    read the API within ``RETURN_SYNC_INTERVAL`` (:func:`.throttle.claim_return_read`). Every other return reads
    its attempt: a buyer who paid a second tab of a paid order, canceled and went back to pay, or whose second card
    went through after a decline, must be seen. ``reported_payment_id`` (the ``payment_id`` OrkestaPay may append)
    is read at once with the order, so a payments list that lacks the payment's details costs no second round trip;
    it is trusted no further than the API's answer about it.

    Raises ``Checkout.DoesNotExist`` when the link names no checkout of ours and an :class:`OrkestaPayError` when
    the API cannot be asked or its answer cannot be used (the order is left unchanged, flagged in the second case;
    the buyer can reload).
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
    known_final = checkout.status in (CheckoutStatus.COMPLETED, CheckoutStatus.FAILED)
    if (order.status in PAID_STATUSES and known_final) or not claim_return_read(order.pk, RETURN):
        return SyncResult(order=order, changed=False, remote_status=order.remote_status, flagged=order.needs_review)
    close_as = CheckoutStatus.CANCELED if link.side == CANCELED else None
    payment_ids = [reported_payment_id[:64]] if reported_payment_id else []
    return _sync_checkout(checkout, close_as=close_as, payment_ids=payment_ids)


def poll_order(order: Order) -> Order:
    """The order as a front end polling a pending payment should see it: a PENDING order is read from the API at
    most once per ``RETURN_SYNC_INTERVAL`` (counted apart from the returns, :func:`.throttle.claim_return_read`, so
    a poll never delays a returning buyer's confirmation); every other order, a read inside the interval, and a read
    that fails (recorded on the order) answer from the database."""
    if order.status != OrderStatus.PENDING or not claim_return_read(order.pk, POLL):
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


def _sync_checkout(checkout: Checkout, *, close_as: str | None, payment_ids: Iterable[str] = ()) -> SyncResult:
    if not checkout.orkestapay_order_id:
        return SyncResult(order=checkout.order, changed=False, remote_status="")
    try:
        read = read_attempt(checkout, payment_ids=payment_ids)
    except OrkestaPayError as exc:
        record_failure(checkout.order_id, exc)
        raise
    close = (checkout.pk, close_as) if close_as else None
    return apply_reads(checkout.order_id, [read], close=close)


def sync_order(order: Order) -> SyncResult:
    """Confirm ``order`` with the API through every attempt whose outcome may still change (newest first, at most
    :data:`MAX_ATTEMPTS_READ`): for an unpaid order, all of them (late money on an attempt closed here); for a paid
    one, the open and pending ones, those with completed payments (to see refunds made elsewhere), and those closed
    within ``RECONCILE_WINDOW`` of their last change (a second payment on an old tab, its webhook lost).

    What could be read is applied; then the first failure, if any, is recorded on the order and raised.
    """
    completed = Payment.objects.filter(checkout=OuterRef("pk"), status=PaymentStatus.COMPLETED)
    recently = timezone.now() - _window()
    may_change = (
        Q(status__in=[CheckoutStatus.OPEN, CheckoutStatus.PENDING]) | Q(has_money=True) | Q(updated_at__gte=recently)
    )
    attempts = (
        order.checkouts.exclude(orkestapay_order_id="")
        .exclude(status=CheckoutStatus.FAILED)
        .annotate(has_money=Exists(completed))
        .order_by("-created_at")
    )
    if order.status in PAID_STATUSES:
        attempts = attempts.filter(may_change)
    wanted = list(attempts[:MAX_ATTEMPTS_READ])
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
        record_failure(order.pk, failure)
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
    """Close checkouts past their ``expires_at``, each after reading it from the API: an open one that turns out paid
    or with a payment in progress (a SPEI transfer) is left to that, the others are marked expired; a pending one is
    read too, and closed once OrkestaPay's order says it expired (its status, or its own ``expires_at`` passed while
    it still says ``CREATED``). The order's status is derived again (expired when no other attempt is open, pending
    or paid)."""
    due = Checkout.objects.filter(
        status__in=[CheckoutStatus.OPEN, CheckoutStatus.PENDING], expires_at__lte=timezone.now()
    ).select_related("order")
    return run_batch(due, lambda checkout: _sync_checkout(checkout, close_as=CheckoutStatus.EXPIRED))
