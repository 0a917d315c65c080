"""Confirming orders with OrkestaPay's API: how its statuses map to ours, applying what it reports (under row
locks, paid only when amount, currency and reference match), the buyer's signed return, reconciliation of open
orders, and the expiry of checkouts past their time."""

from __future__ import annotations

import logging
from collections.abc import Iterable
from dataclasses import dataclass
from datetime import timedelta

from django.db import models, transaction
from django.utils import timezone

from ..client import RemoteOrder
from ..exceptions import InvalidTransitionError, OrkestaPayError
from ..models import PAID_STATUSES, Checkout, CheckoutStatus, Order, OrderStatus
from ..signing import CANCELED, ReturnLink
from .api_client import get_client
from .batch import BatchSummary, run_batch
from .orders import CENT
from .transitions import transition_order

# One logger for the whole service layer, named as before the split, so a shop's logging configuration and its
# log filters keep working.
logger = logging.getLogger("django_orkestapay.services")

#: How OrkestaPay order statuses map to ours. Anything not listed (CREATED, PROCESSING_PAYMENT,
#: PAYMENT_ACTION_REQUIRED, statuses we have never seen) counts as pending: never as paid.
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

_CHECKOUT_STATUS_FOR = {
    OrderStatus.PAID: CheckoutStatus.COMPLETED,
    OrderStatus.PARTIALLY_REFUNDED: CheckoutStatus.COMPLETED,
    OrderStatus.REFUNDED: CheckoutStatus.COMPLETED,
    OrderStatus.CANCELED: CheckoutStatus.CANCELED,
    OrderStatus.EXPIRED: CheckoutStatus.EXPIRED,
    OrderStatus.FAILED: CheckoutStatus.DECLINED,
}


def map_remote_status(remote_status: str) -> str:
    """Our status for an OrkestaPay order status (unknown means pending)."""
    return REMOTE_STATUS_MAP.get(remote_status.upper(), OrderStatus.PENDING)


def payment_mismatches(order: Order, checkout: Checkout, remote: RemoteOrder) -> list[str]:
    """What in the API's order disagrees with ours (amount, currency, reference); empty when it all matches."""
    problems = []
    if remote.total_amount is None or remote.total_amount.quantize(CENT) != order.total_amount:
        problems.append(f"amount: OrkestaPay {remote.total_amount}, ours {order.total_amount}")
    if (remote.currency or "").upper() != order.currency.upper():
        problems.append(f"currency: OrkestaPay {remote.currency}, ours {order.currency}")
    expected_reference = checkout.merchant_reference or order.merchant_order_id
    if remote.merchant_order_id != expected_reference:
        problems.append(f"merchant_order_id: OrkestaPay {remote.merchant_order_id!r}, ours {expected_reference!r}")
    if checkout.orkestapay_order_id and remote.order_id != checkout.orkestapay_order_id:
        problems.append(f"order_id: OrkestaPay {remote.order_id!r}, ours {checkout.orkestapay_order_id!r}")
    return problems


@dataclass(frozen=True)
class SyncResult:
    """What confirming an order with the API did."""

    order: Order
    changed: bool
    remote_status: str
    flagged: bool = False


def apply_remote_order(checkout: Checkout, remote: RemoteOrder, *, canceled_by_buyer: bool = False) -> SyncResult:
    """Apply what the API says about ``checkout``'s OrkestaPay order, under row locks, exactly once.

    PAID is accepted only when amount, currency and reference match (otherwise the order is flagged for review and
    keeps its status). A buyer's cancel return cancels an order the API still reports open. A report that would
    move the order backwards (a late cancel after pay) is logged and ignored.
    """
    # No savepoint when nested (process_event): a failure here rolls the caller's whole transaction back anyway.
    with transaction.atomic(savepoint=False):
        order = Order.objects.select_for_update().get(pk=checkout.order_id)
        checkout = Checkout.objects.select_for_update().get(pk=checkout.pk)
        order.remote_status = remote.status[:40]
        order.last_synced_at = timezone.now()
        order.last_error = ""  # the API answered: an earlier "could not confirm" no longer describes the order
        target = map_remote_status(remote.status)
        flagged = False
        if target in PAID_STATUSES:
            problems = payment_mismatches(order, checkout, remote)
            if problems:
                flagged = True
                order.needs_review = True
                order.review_reason = "OrkestaPay reports the order paid but " + "; ".join(problems)
                logger.error("Order %s flagged for review: %s", order.merchant_order_id, order.review_reason)
                target = order.status
            elif remote.payment_ids and len(remote.payment_ids[-1]) <= 64:
                order.orkestapay_payment_id = remote.payment_ids[-1]
        elif target == OrderStatus.PENDING and canceled_by_buyer:
            target = OrderStatus.CANCELED
        if target == OrderStatus.PENDING and checkout.status != CheckoutStatus.OPEN:
            target = order.status  # a stale report about an attempt that is already over changes nothing
        new_checkout_status = _CHECKOUT_STATUS_FOR.get(OrderStatus(target))
        if new_checkout_status and checkout.status == CheckoutStatus.OPEN:
            checkout.status = new_checkout_status
            checkout.save(update_fields=["status", "updated_at"])
        try:
            changed = transition_order(order, target, reason=f"OrkestaPay reports {remote.status}")
        except InvalidTransitionError as exc:
            logger.warning("Ignored a stale report: %s", exc)
            changed = False
        if not changed:
            order.save(
                update_fields=[
                    "remote_status",
                    "last_synced_at",
                    "last_error",
                    "needs_review",
                    "review_reason",
                    "orkestapay_payment_id",
                    "updated_at",
                ]
            )
    return SyncResult(order=order, changed=changed, remote_status=remote.status, flagged=flagged)


def confirm_return(link: ReturnLink, *, reported_order_id: str | None = None) -> SyncResult:
    """Handle a buyer's signed return: ask the API for the order's real status and apply it.

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
    return sync_checkout(checkout, canceled_by_buyer=link.side == CANCELED)


def sync_checkout(checkout: Checkout, *, canceled_by_buyer: bool = False) -> SyncResult:
    """Read ``checkout``'s OrkestaPay order from the API and apply its status."""
    if not checkout.orkestapay_order_id:
        return SyncResult(order=checkout.order, changed=False, remote_status="")
    try:
        remote = get_client().get_order(checkout.orkestapay_order_id)
    except OrkestaPayError as exc:
        Order.objects.filter(pk=checkout.order_id).update(
            last_error=f"{timezone.now():%Y-%m-%d %H:%M:%S} confirming status: {exc}", updated_at=timezone.now()
        )
        logger.error("Order %s: status could not be confirmed: %s", checkout.order_id, exc)
        raise
    return apply_remote_order(checkout, remote, canceled_by_buyer=canceled_by_buyer)


def sync_order(order: Order) -> SyncResult:
    """Confirm ``order`` with the API through its most recent registered checkout."""
    checkout = (
        order.checkouts.exclude(orkestapay_order_id="")
        .exclude(status=CheckoutStatus.FAILED)
        .order_by("-created_at")
        .first()
    )
    if checkout is None:
        return SyncResult(order=order, changed=False, remote_status="")
    return sync_checkout(checkout)


def sync_orders(orders: Iterable[Order]) -> BatchSummary:
    """Sync several orders. Failures are logged and recorded on each order, and counted."""
    return run_batch(orders, sync_order)


def orders_to_reconcile(*, older_than: timedelta = timedelta(0)) -> models.QuerySet[Order]:
    """Orders whose outcome we may not know yet: created or pending, with a registered checkout."""
    return (
        Order.objects.filter(status__in=[OrderStatus.CREATED, OrderStatus.PENDING])
        .filter(created_at__lte=timezone.now() - older_than)
        .exclude(orkestapay_order_id="")
        .order_by("created_at")
    )


def expire_checkouts() -> BatchSummary:
    """Close open checkouts past their ``expires_at``: ask the API first (a late payment still counts), then mark
    the checkout expired, and the order too when it has no other open checkout."""
    summary = BatchSummary()
    now = timezone.now()
    for checkout in Checkout.objects.filter(status=CheckoutStatus.OPEN, expires_at__lte=now).select_related("order"):
        try:
            result = sync_checkout(checkout)
        except OrkestaPayError:
            summary.failed += 1
            continue
        summary.succeeded += 1
        changed = result.changed
        with transaction.atomic():
            order = Order.objects.select_for_update().get(pk=checkout.order_id)
            locked = Checkout.objects.select_for_update().get(pk=checkout.pk)
            if locked.status == CheckoutStatus.OPEN:
                locked.status = CheckoutStatus.EXPIRED
                locked.save(update_fields=["status", "updated_at"])
                still_open = order.checkouts.filter(status=CheckoutStatus.OPEN).exists()
                if order.status == OrderStatus.PENDING and not still_open:
                    changed = transition_order(order, OrderStatus.EXPIRED, reason="checkout expired") or changed
        summary.changed += int(changed)
    return summary
