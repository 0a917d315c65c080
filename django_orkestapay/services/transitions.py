"""The order state machine: the allowed moves between statuses, :func:`transition_order` (the one function that
changes an order's status, on a locked row) and the signals it sends once the transaction commits."""

from __future__ import annotations

import logging
from typing import Any

from django.db import transaction
from django.utils import timezone

from .. import signals
from ..exceptions import InvalidTransitionError
from ..models import Order, OrderStatus

# One logger for the whole service layer, named as before the split, so a shop's logging configuration and its
# log filters keep working.
logger = logging.getLogger("django_orkestapay.services")

#: Allowed moves. Money received is a fact: a canceled, failed or expired order can still become PAID when the API
#: says a payment completed. Nothing leaves the paid family except through refunds.
ALLOWED_TRANSITIONS: dict[str, frozenset[str]] = {
    OrderStatus.CREATED: frozenset(
        {OrderStatus.PENDING, OrderStatus.PAID, OrderStatus.CANCELED, OrderStatus.FAILED, OrderStatus.EXPIRED}
    ),
    OrderStatus.PENDING: frozenset({OrderStatus.PAID, OrderStatus.CANCELED, OrderStatus.FAILED, OrderStatus.EXPIRED}),
    OrderStatus.FAILED: frozenset({OrderStatus.PENDING, OrderStatus.PAID, OrderStatus.CANCELED, OrderStatus.EXPIRED}),
    OrderStatus.CANCELED: frozenset({OrderStatus.PENDING, OrderStatus.PAID}),
    OrderStatus.EXPIRED: frozenset({OrderStatus.PENDING, OrderStatus.PAID}),
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


def transition_order(order: Order, new_status: str, *, reason: str = "") -> bool:
    """Move a *locked* order to ``new_status`` and save it; send signals on commit.

    Must run inside ``transaction.atomic()`` on an order fetched with ``select_for_update()``. Returns ``False`` for
    a no-op (already there) and raises :class:`InvalidTransitionError` for a move the state machine refuses.
    """
    old_status = order.status
    if old_status == new_status:
        return False
    if not can_transition(old_status, new_status):
        raise InvalidTransitionError(f"Order {order.merchant_order_id}: {old_status} -> {new_status} is not allowed")
    order.status = new_status
    if new_status == OrderStatus.PAID and order.paid_at is None:
        order.paid_at = timezone.now()
    order.save()
    logger.info("Order %s: %s -> %s (%s)", order.merchant_order_id, old_status, new_status, reason or "no reason")
    _send_on_commit(signals.order_status_changed, order, old_status=old_status, new_status=new_status)
    status_signal = _STATUS_SIGNALS.get(OrderStatus(new_status))
    if status_signal is not None:
        _send_on_commit(status_signal, order)
    return True


def _send_on_commit(signal: Any, order: Order, **kwargs: Any) -> None:
    def send() -> None:
        signal.send(sender=Order, order=order, shop_object=_shop_object(order), **kwargs)

    transaction.on_commit(send)


def _shop_object(order: Order) -> Any:
    if not order.content_type_id:
        return None
    try:
        return order.shop_object
    except Exception:  # noqa: BLE001 - the linked object may have been deleted or its model removed
        logger.warning("Order %s: linked shop object could not be loaded", order.merchant_order_id)
        return None
