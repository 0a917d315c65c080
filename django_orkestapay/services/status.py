"""An order's status applied from what its ledger says (:class:`.derive.Derived`), on the *locked* order inside the
caller's transaction: the path through the state machine (:func:`ledger_path`), the moves the ledger forces where
the state machine has none (flagged ``ledger_override`` for a person), and what is announced: ``order_paid`` (or
``stale_order_paid``, ``order_paid_twice`` for another order of the same shop object) and ``order_refunded``.
:mod:`.apply` calls it once it has brought the ledger up to date.
"""

from __future__ import annotations

from collections.abc import Sequence
from decimal import Decimal

from django.utils import timezone

from .. import signals
from ..models import PAID_STATUSES, Order, OrderStatus, Payment, PaymentStatus, Refund, RefundStatus, ReviewCode
from .derive import Derived
from .orders import CURRENTLY_PAID, paid_contents_changed, paid_twin
from .transitions import can_transition, flag_review, send_on_commit, transition_order


def ledger_path(current: str, derived: Derived, total: Decimal) -> list[str]:
    """The statuses an order at ``current`` goes through to the status its ledger gives: that status, after PAID
    when the order was paid in full and (partly) refunded before the app heard of either. PAID only when the total
    arrived: money refunded before the total arrived goes straight to REFUNDED."""
    refunded_family = (OrderStatus.PARTIALLY_REFUNDED, OrderStatus.REFUNDED)
    if derived.status in refunded_family and current not in PAID_STATUSES and derived.received >= total:
        return [OrderStatus.PAID, derived.status]
    return [derived.status]


def apply_status(order: Order, derived: Derived) -> bool:
    """Move the order along :func:`ledger_path`. The ledger wins: a move the state machine does not make is made
    all the same (``forced``), and the order is flagged ``ledger_override`` for a person. Entering the paid family
    (PAID, PARTIALLY_REFUNDED) sets ``paid_at`` and is announced (``order_paid``, or ``stale_order_paid`` /
    ``order_paid_twice``), unless the order ends refunded in full: nothing is left to ship for."""
    reason = f"{derived.received} of {order.total_amount} {order.currency} received, {derived.refunded} refunded"
    changed = False
    for step in ledger_path(order.status, derived, Decimal(order.total_amount)):
        if step == order.status:
            continue
        forced = not can_transition(order.status, step)
        if forced:
            flag_review(order, ReviewCode.LEDGER_OVERRIDE, _override_reason(order.status, step, reason))
        announce = step in CURRENTLY_PAID and order.status not in CURRENTLY_PAID
        announce = announce and derived.status != OrderStatus.REFUNDED
        stale, fingerprint, twin = False, None, None
        if announce:
            stale, fingerprint = paid_contents_changed(order)
            if stale:
                flag_review(order, ReviewCode.STALE_CONTENTS, _stale_reason(order, fingerprint))
                order.stale_payment = True
            twin = None if stale else paid_twin(order)
            if twin is not None:
                _flag_paid_twice(order, twin)
        moved = transition_order(order, step, reason=reason, paid_signal=False, forced=forced)
        changed = changed or moved
        if not (moved and announce):
            continue
        if stale:
            send_on_commit(signals.stale_order_paid, order, current_fingerprint=fingerprint)
        elif twin is not None:
            both = Payment.objects.filter(order__in=[order.pk, twin.pk], status=PaymentStatus.COMPLETED)
            send_on_commit(signals.order_paid_twice, order, payments=list(both.order_by("completed_at", "created_at")))
        else:
            send_on_commit(signals.order_paid, order)
    return changed


def _override_reason(old: str, new: str, amounts: str) -> str:
    if old == OrderStatus.REFUNDED and new in CURRENTLY_PAID:
        why = "money arrived after it was refunded in full"
    elif old in PAID_STATUSES and new not in PAID_STATUSES:
        why = "the money that paid it no longer counts"
    else:
        why = "refunds or payments that counted no longer do"
    return f"{old} -> {new} by the ledger, which the usual flow does not do: {why} ({amounts})"


def announce_refunds(order: Order, derived: Derived, refunds: Sequence[Refund]) -> None:
    """``order_refunded`` (on commit) once per refund of ``order`` that succeeded and was not announced yet, marked
    announced in this transaction (under the order's lock: once, whichever apply sees it first)."""
    new = sorted(
        (r for r in refunds if r.order_id == order.pk and r.status == RefundStatus.SUCCEEDED and not r.announced_at),
        key=lambda r: r.created_at,
    )
    if not new:
        return
    now = timezone.now()
    Refund.objects.filter(pk__in=[r.pk for r in new], announced_at=None).update(announced_at=now)
    left = max(derived.received - derived.refunded, Decimal("0.00"))
    for refund in new:
        refund.announced_at = now
        send_on_commit(
            signals.order_refunded,
            order,
            refund=refund,
            amount=Decimal(refund.amount),
            refunded=derived.refunded,
            left=left,
        )


def _flag_paid_twice(order: Order, twin: Order) -> None:
    """``order`` is being paid while ``twin`` (another order of the same shop object, same contents) already is:
    the object was paid twice. Both are flagged ``paid_twice`` (``order`` in memory, ``twin`` saved)."""
    reason = (
        f"paid twice: orders {twin.merchant_order_id} and {order.merchant_order_id} both pay the same contents of "
        "the same shop object"
    )
    flag_review(order, ReviewCode.PAID_TWICE, reason)
    twin = Order.objects.select_for_update().get(pk=twin.pk)
    if flag_review(twin, ReviewCode.PAID_TWICE, reason):
        twin.save(update_fields=["needs_review", "review_code", "review_reason", "updated_at"])


def _stale_reason(order: Order, fingerprint: str | None) -> str:
    if fingerprint is None:
        return "paid, but its shop object can no longer be described (deleted, or its description fails)"
    return (
        f"paid for contents that changed: the order's fingerprint {order.content_fingerprint[:12]}, "
        f"the shop object's now {fingerprint[:12]}"
    )
