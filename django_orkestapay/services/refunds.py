"""Refunds: what is left to refund, a refund recorded (committed, with its idempotency key) before OrkestaPay is
called, its outcome applied to the order's status, and the resending of refunds whose outcome is unknown."""

from __future__ import annotations

import logging
import uuid
from collections.abc import Iterable
from decimal import Decimal

from django.db import models, transaction
from django.utils import timezone

from ..exceptions import (
    APIConnectionError,
    InvalidTransitionError,
    MalformedResponseError,
    OrkestaPayError,
    RefundNotAllowedError,
    ServerError,
)
from ..models import Order, OrderStatus, Refund, RefundStatus
from .api_client import _jsonable, get_client
from .batch import BatchSummary, run_batch
from .orders import CENT, _money
from .transitions import transition_order

# One logger for the whole service layer, named as before the split, so a shop's logging configuration and its
# log filters keep working.
logger = logging.getLogger("django_orkestapay.services")


def refundable_amount(order: Order) -> Decimal:
    """What is left to refund: the total minus refunds that succeeded or are still in flight."""
    if order.status not in (OrderStatus.PAID, OrderStatus.PARTIALLY_REFUNDED):
        return Decimal("0.00")
    taken = order.refunds.exclude(status=RefundStatus.FAILED).aggregate(total=models.Sum("amount"))["total"]
    return max(order.total_amount - (taken or Decimal("0")), Decimal("0.00")).quantize(CENT)


def refund_order(
    order: Order, *, amount: Decimal | None = None, description: str = "", requested_by: str = ""
) -> Refund:
    """Refund ``amount`` (default: everything left) of a paid order through OrkestaPay.

    The :class:`Refund` row is committed, under the order's row lock, *before* the API is called, so two concurrent
    requests cannot refund more than was paid and the idempotency key survives a crash. The API call carries that
    key; a failure marks the refund FAILED (its amount becomes refundable again) and is raised. A success moves the
    order to PARTIALLY_REFUNDED or REFUNDED. Raises :class:`RefundNotAllowedError` or an :class:`OrkestaPayError`.
    """
    with transaction.atomic():
        order = Order.objects.select_for_update().get(pk=order.pk)
        if not order.orkestapay_payment_id:
            raise RefundNotAllowedError(f"Order {order.merchant_order_id} has no OrkestaPay payment to refund")
        available = refundable_amount(order)
        wanted = available if amount is None else _money(amount, "amount")
        if wanted <= 0 or wanted > available:
            raise RefundNotAllowedError(
                f"Order {order.merchant_order_id}: {wanted} {order.currency} asked, {available} can be refunded"
            )
        refund = Refund.objects.create(
            order=order,
            payment_id=order.orkestapay_payment_id,
            amount=wanted,
            description=(description or f"Refund of order {order.merchant_order_id}")[:250],
            idempotency_key=uuid.uuid4().hex,
            requested_by=requested_by[:150],
        )
    return _send_refund(refund)


def _send_refund(refund: Refund) -> Refund:
    try:
        result = get_client().refund_payment(
            refund.payment_id,
            amount=refund.amount,
            description=refund.description,
            idempotency_key=refund.idempotency_key,
        )
        if not result.succeeded:
            raise RefundNotAllowedError(
                f"OrkestaPay answered {result.status}: {result.message or 'no message'}", response_body=result.raw
            )
    except OrkestaPayError as exc:
        # A timeout, a dropped connection, a 5xx or an unreadable answer leaves the outcome unknown: the refund
        # stays REQUESTED (its amount stays reserved) and retry_refund() resends it with the same idempotency key.
        outcome_unknown = isinstance(exc, APIConnectionError | ServerError | MalformedResponseError)
        with transaction.atomic():
            Refund.objects.filter(pk=refund.pk).update(
                status=RefundStatus.REQUESTED if outcome_unknown else RefundStatus.FAILED,
                error=str(exc),
                raw_response=_jsonable(exc.response_body) if isinstance(exc.response_body, dict) else None,
                updated_at=timezone.now(),
            )
            Order.objects.filter(pk=refund.order_id).update(
                last_error=f"{timezone.now():%Y-%m-%d %H:%M:%S} refunding {refund.amount}: {exc}",
                updated_at=timezone.now(),
            )
        logger.error("Order %s: refund of %s failed: %s", refund.order_id, refund.amount, exc)
        raise
    with transaction.atomic():
        order = Order.objects.select_for_update().get(pk=refund.order_id)
        refund.status = RefundStatus.SUCCEEDED
        refund.transaction_id = result.transaction_id or ""
        refund.remote_status = result.status
        refund.raw_response = _jsonable(result.raw)
        refund.save(update_fields=["status", "transaction_id", "remote_status", "raw_response", "updated_at"])
        refunded = order.refunds.filter(status=RefundStatus.SUCCEEDED).aggregate(total=models.Sum("amount"))["total"]
        target = OrderStatus.REFUNDED if refunded >= order.total_amount else OrderStatus.PARTIALLY_REFUNDED
        try:
            transition_order(order, target, reason=f"refund {refund.transaction_id or refund.pk} of {refund.amount}")
        except InvalidTransitionError as exc:  # already fully refunded by a webhook that arrived first
            logger.warning("Refund recorded without a status change: %s", exc)
        order.last_error = ""
        order.save(update_fields=["last_error", "updated_at"])
    logger.info("Order %s: refunded %s %s", order.merchant_order_id, refund.amount, order.currency)
    return refund


def retry_refund(refund: Refund) -> Refund:
    """Resend a refund whose outcome is unknown (still REQUESTED), with its original idempotency key."""
    if refund.status != RefundStatus.REQUESTED:
        raise RefundNotAllowedError(f"Refund {refund.pk} is {refund.status}; only a requested refund is resent")
    return _send_refund(refund)


def retry_refunds(refunds: Iterable[Refund]) -> BatchSummary:
    """Resend several refunds whose outcome is unknown; failures are recorded and counted."""
    return run_batch(refunds, lambda refund: bool(retry_refund(refund)))


def refund_orders(orders: Iterable[Order], *, requested_by: str = "") -> BatchSummary:
    """Refund what is left of each order (the admin's bulk action); failures are recorded and counted."""
    return run_batch(orders, lambda order: bool(refund_order(order, requested_by=requested_by)))
