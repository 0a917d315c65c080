"""The order state machine: the allowed moves between statuses, :func:`transition_order` (the one function that
changes an order's status, on a locked row), the review flag (:func:`flag_review`) and the signals, sent once the
transaction commits and robustly (:func:`send_on_commit`)."""

from __future__ import annotations

import logging
from typing import Any

from django.db import transaction
from django.dispatch import Signal
from django.utils import timezone

from .. import signals
from ..exceptions import InvalidTransitionError
from ..models import Order, OrderStatus
from .orders import CURRENTLY_PAID

# One logger for the whole service layer, named as before the split, so a shop's logging configuration and its
# log filters keep working.
logger = logging.getLogger("django_orkestapay.services")

#: Allowed moves: the usual flow. Without money, the attempts decide (the latest closed one), so an unpaid order
#: moves between the unpaid statuses as they say (never back to CREATED: an attempt was registered). Money received
#: is a fact: a canceled, failed or expired order can still become PAID when the API says a payment completed, and
#: an order whose money (all of it, less than the total) was refunded before it was paid becomes REFUNDED without
#: being PAID. Nothing leaves the paid family except through refunds. The ledger may require a move this table does
#: not make (money after a full refund, money that no longer counts): :func:`transition_order` makes it with
#: ``forced=True``, and the caller tells a person.
_UNPAID = (OrderStatus.PENDING, OrderStatus.CANCELED, OrderStatus.FAILED, OrderStatus.EXPIRED)
ALLOWED_TRANSITIONS: dict[str, frozenset[str]] = {
    **{
        status: frozenset({*_UNPAID, OrderStatus.PAID, OrderStatus.REFUNDED} - {status})
        for status in (OrderStatus.CREATED, *_UNPAID)
    },
    OrderStatus.PAID: frozenset({OrderStatus.PARTIALLY_REFUNDED, OrderStatus.REFUNDED}),
    OrderStatus.PARTIALLY_REFUNDED: frozenset({OrderStatus.REFUNDED}),
    OrderStatus.REFUNDED: frozenset(),
}

_STATUS_SIGNALS = {
    OrderStatus.PAID: signals.order_paid,
    OrderStatus.CANCELED: signals.order_canceled,
    OrderStatus.FAILED: signals.order_failed,
    OrderStatus.EXPIRED: signals.order_expired,
}


def can_transition(old: str, new: str) -> bool:
    """Whether ``old -> new`` is an allowed move (the same status is always allowed, as a no-op)."""
    return old == new or new in ALLOWED_TRANSITIONS.get(old, frozenset())


def transition_order(
    order: Order, new_status: str, *, reason: str = "", paid_signal: bool = True, forced: bool = False
) -> bool:
    """Move a *locked* order to ``new_status`` and save it; send signals on commit.

    Must run inside ``transaction.atomic()`` on an order fetched with ``select_for_update()``. Returns ``False`` for
    a no-op (already there) and raises :class:`InvalidTransitionError` for a move the state machine refuses.
    ``paid_signal=False`` leaves ``order_paid`` out (money for stale contents: the caller sends ``stale_order_paid``).
    ``forced=True`` makes a move the state machine refuses, because the ledger requires it: the caller flags the
    order for a person (``ledger_override``).
    """
    old_status = order.status
    if old_status == new_status:
        return False
    if not forced and not can_transition(old_status, new_status):
        raise InvalidTransitionError(f"Order {order.merchant_order_id}: {old_status} -> {new_status} is not allowed")
    order.status = new_status
    order.status_changed_at = timezone.now()
    if new_status in CURRENTLY_PAID and old_status not in CURRENTLY_PAID:  # paid, or paid again after a full refund
        order.paid_at = order.status_changed_at
    order.save()
    log = logger.warning if forced else logger.info
    log("Order %s: %s -> %s (%s)", order.merchant_order_id, old_status, new_status, reason or "no reason")
    send_on_commit(
        signals.order_status_changed,
        order,
        old_status=old_status,
        new_status=new_status,
        needs_review=order.needs_review,
    )
    status_signal = _STATUS_SIGNALS.get(OrderStatus(new_status))
    if status_signal is not None and (paid_signal or status_signal is not signals.order_paid):
        send_on_commit(status_signal, order)
    return True


def flag_review(order: Order, code: str, reason: str) -> bool:
    """Flag ``order`` for review with ``reason`` (one line) unless that reason is already recorded.

    Never clears a flag; reasons accumulate one per line and ``review_code`` names the newest. Changes the order in
    memory only (the caller saves it, in the transaction). A new reason is announced by ``order_needs_review`` once
    the transaction commits. Returns whether the reason is new.
    """
    reason = " ".join(reason.split())
    lines = order.review_reason.splitlines()
    if reason in lines:
        return False
    order.needs_review = True
    order.review_code = code
    order.review_reason = "\n".join([*lines, reason])
    logger.error("Order %s flagged for review (%s): %s", order.merchant_order_id, code, reason)
    send_on_commit(signals.order_needs_review, order, code=code, reason=reason)
    return True


def send_on_commit(signal: Signal, order: Order, **kwargs: Any) -> None:
    """Send ``signal`` for ``order`` once the transaction commits, robustly: a receiver's exception is logged with
    the order's reference and never propagates (to the buyer's page, the webhook or the other receivers)."""

    def send() -> None:
        responses = signal.send_robust(sender=Order, order=order, shop_object=_shop_object(order), **kwargs)
        for receiver, response in responses:
            if isinstance(response, Exception):
                logger.error(
                    "Order %s: signal receiver %s raised",
                    order.merchant_order_id,
                    getattr(receiver, "__qualname__", repr(receiver)),
                    exc_info=(type(response), response, response.__traceback__),
                )

    transaction.on_commit(send)


def _shop_object(order: Order) -> Any:
    if not order.content_type_id:
        return None
    try:
        return order.shop_object
    except Exception:  # noqa: BLE001 - the linked object may have been deleted or its model removed
        logger.warning("Order %s: linked shop object could not be loaded", order.merchant_order_id)
        return None
