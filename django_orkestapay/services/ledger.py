"""The payment ledger: one :class:`~django_orkestapay.models.Payment` row per OrkestaPay payment, upserted from
every API read and every webhook under the order's row lock (:func:`record_payment`); and the refunds a payment's
answer tells us about: ours settled from its transactions (:func:`settle_refunds`), and those made outside the
shop (in OrkestaPay's portal) mirrored (:func:`mirror_external_refunds`).

Nothing here moves a payment to another order, turns a completed payment back into a pending or failed one, or
lowers what OrkestaPay reports as refunded. No HTTP: the callers read the API first.
"""

from __future__ import annotations

import hashlib
import logging
from collections.abc import Iterable, MutableSequence
from decimal import Decimal

from django.db.models import Q
from django.utils import timezone

from ..client import RemotePayment
from ..models import (
    UNSETTLED_REFUNDS,
    Checkout,
    Order,
    Payment,
    PaymentOrigin,
    PaymentStatus,
    Refund,
    RefundOrigin,
    RefundStatus,
    ReviewCode,
)
from .api_client import _jsonable
from .derive import CENT, PAYMENT_STATUS_RANK, map_payment_status, reverses_payment
from .transitions import flag_review

# One logger for the whole service layer, named as before the split, so a shop's logging configuration and its
# log filters keep working.
logger = logging.getLogger("django_orkestapay.services")

#: How a REFUND transaction's status settles one of our pending refunds; anything else leaves it pending.
REFUND_TRANSACTION_OUTCOMES = {
    "SUCCESS": RefundStatus.SUCCEEDED,
    "SUCCEEDED": RefundStatus.SUCCEEDED,
    "COMPLETED": RefundStatus.SUCCEEDED,
    "FAILED": RefundStatus.FAILED,
    "DECLINED": RefundStatus.FAILED,
    "REJECTED": RefundStatus.FAILED,
}
_ID_LENGTH = 64  # Payment.orkestapay_payment_id and orkestapay_order_id


def load_payments(order: Order, payment_ids: Iterable[str] = ()) -> dict[str, Payment]:
    """In one query: ``order``'s payments and any row holding one of ``payment_ids`` (which may belong to another
    order: :func:`record_payment` then refuses to move it), keyed by OrkestaPay payment id."""
    rows = Payment.objects.filter(Q(order_id=order.pk) | Q(orkestapay_payment_id__in=list(payment_ids)))
    return {row.orkestapay_payment_id: row for row in rows}


def record_payment(
    order: Order,
    remote: RemotePayment,
    *,
    checkout: Checkout | None = None,
    known: dict[str, Payment] | None = None,
    origin: str = PaymentOrigin.API,
    hold: bool = False,
) -> Payment | None:
    """Create or update the ledger row of ``remote`` for the *locked* ``order``; return it (``None`` if refused).

    ``known`` is what :func:`load_payments` returned (updated in place; without it the row is looked up). Only what
    changed is saved. A payment id that belongs to another order, a payment whose own ``order_id`` names another
    OrkestaPay order than ``checkout``'s, or an id that does not fit our column is not recorded: the order is
    flagged ``malformed_answer`` (in memory; the caller saves the order). ``origin``: where the answer comes from
    (the API; a placeholder; ``order_total``, an answer whose amount is the order's); a placeholder, migrated or
    order-total row takes the first API answer about it that says its amount as it is. ``hold``: OrkestaPay's status
    is recorded (``remote_status``) but the row stays in progress (pending): money whose amount nobody confirmed is
    never counted.
    """
    payment_id = remote.payment_id
    if len(payment_id) > _ID_LENGTH:
        flag_review(order, ReviewCode.MALFORMED_ANSWER, f"payment id {payment_id[:80]!r}... is too long to record")
        return None
    read_under = checkout.orkestapay_order_id if checkout is not None else ""
    if remote.order_id and read_under and remote.order_id != read_under:
        flag_review(
            order,
            ReviewCode.MALFORMED_ANSWER,
            f"OrkestaPay lists payment {payment_id} under order {read_under}, but the payment names order "
            f"{remote.order_id[:64]}: not recorded here",
        )
        return None
    if known is None:
        known = load_payments(order, [payment_id])
    row = known.get(payment_id)
    if row is not None and row.order_id != order.pk:
        flag_review(
            order,
            ReviewCode.MALFORMED_ANSWER,
            f"OrkestaPay lists payment {payment_id} under this order, but it belongs to another order ({row.order_id})",
        )
        return None
    if row is None:
        row = Payment(order=order, orkestapay_payment_id=payment_id, origin=origin)
        _merge(row, remote, checkout, hold=hold)
        row.save(force_insert=True)
        known[payment_id] = row
        logger.info("Order %s: payment %s recorded (%s)", order.merchant_order_id, payment_id, row.status)
        return row
    if row.status == PaymentStatus.COMPLETED and row.origin == PaymentOrigin.API and reverses_payment(remote.status):
        flag_review(
            order,
            ReviewCode.MALFORMED_ANSWER,
            f"OrkestaPay now reports completed payment {payment_id} as {remote.status[:40]}; the ledger keeps it "
            "completed (the money was received) and refunds none of it while OrkestaPay says so: check it in "
            "OrkestaPay's portal",
        )
    changed = _merge(row, remote, checkout, origin=origin, hold=hold)
    if changed:
        row.save(update_fields=[*changed, "updated_at"])
    return row


def _merge(
    row: Payment,
    remote: RemotePayment,
    checkout: Checkout | None,
    *,
    origin: str = PaymentOrigin.API,
    hold: bool = False,
) -> list[str]:
    """Apply what ``remote`` says to ``row`` in memory, by the ledger's rules; return the changed fields. A row that
    is not yet OrkestaPay's word (a placeholder, a migrated row, an amount taken from the order) takes the first API
    answer about it that says its amount as it is, even a lower status, and is OrkestaPay's from then on."""
    updates: dict[str, object] = {}
    status = PaymentStatus.PENDING if hold else map_payment_status(remote.status)
    adding = row._state.adding
    not_yet_api = not adding and row.origin != PaymentOrigin.API
    corrected = origin == PaymentOrigin.API and not_yet_api
    if row.origin == PaymentOrigin.ORDER_TOTAL and remote.amount is None:
        corrected = False  # still no amount of its own: the order's stays
    accepted = corrected or _may_move(row, status)
    if corrected:
        updates["origin"] = PaymentOrigin.API
    elif (
        origin == PaymentOrigin.ORDER_TOTAL
        and not adding
        and row.origin == PaymentOrigin.API
        and accepted
        and row.status != PaymentStatus.COMPLETED  # recorded before without an amount: the order's amount now
    ):
        updates["origin"] = PaymentOrigin.ORDER_TOTAL
    if accepted:
        if status != row.status or row._state.adding:
            updates["status"] = status
        if remote.status[:40] != row.remote_status:
            updates["remote_status"] = remote.status[:40]
        if status == PaymentStatus.COMPLETED and row.completed_at is None:
            updates["completed_at"] = timezone.now()
        elif status != PaymentStatus.COMPLETED and row.completed_at is not None:
            updates["completed_at"] = None  # a migrated row the API says never completed
        if remote.amount is not None and (row._state.adding or Decimal(row.amount) != remote.amount):
            updates["amount"] = remote.amount.quantize(CENT)
    else:  # an older or odd answer (a late webhook, a glitch): the ledger keeps what it knows
        if reverses_payment(remote.status) and remote.status[:40] != row.remote_status:
            updates["remote_status"] = remote.status[:40]  # kept completed, but nothing of it is refundable now
        logger.warning(
            "Payment %s: ignored OrkestaPay's %s, it is %s", row.orkestapay_payment_id, remote.status[:40], row.status
        )
    if remote.refunded is not None and remote.refunded > Decimal(row.refunded_amount):
        updates["refunded_amount"] = remote.refunded.quantize(CENT)
    if remote.currency and remote.currency[:3] != row.currency:
        updates["currency"] = remote.currency[:3]
    if remote.method_type and remote.method_type[:32] != row.method_type:
        updates["method_type"] = remote.method_type[:32]
    raw = _jsonable(remote.raw)
    if (not remote.partial or row.raw is None) and raw != row.raw:
        updates["raw"] = raw
    if row.checkout_id is None and checkout is not None:
        updates["checkout"] = checkout
    order_id = remote.order_id or (checkout.orkestapay_order_id if checkout is not None else "")
    if not row.orkestapay_order_id and order_id and len(order_id) <= _ID_LENGTH:
        updates["orkestapay_order_id"] = order_id
    for name, value in updates.items():
        setattr(row, name, value)
    return list(updates)


def _may_move(row: Payment, status: str) -> bool:
    """Statuses only move up the ladder (completed is its top: a completed payment stays completed)."""
    return row._state.adding or PAYMENT_STATUS_RANK[status] >= PAYMENT_STATUS_RANK[row.status]


def replace_placeholders(order: Order, checkout: Checkout, known: dict[str, Payment]) -> None:
    """Once OrkestaPay lists a real completed payment on ``checkout``, the placeholders recorded on that attempt
    (it said paid before it listed the payment) were never money of their own: their refunds move to the real
    payment and the rows are deleted (``known`` and ``order.orkestapay_payment_id`` follow, in memory)."""
    on_attempt = [p for p in known.values() if p.order_id == order.pk and p.checkout_id == checkout.pk]
    placeholders = [p for p in on_attempt if p.origin == PaymentOrigin.PLACEHOLDER]
    real = [
        p
        for p in on_attempt
        if p.origin in (PaymentOrigin.API, PaymentOrigin.ORDER_TOTAL)
        and p.status == PaymentStatus.COMPLETED
        and Decimal(p.amount) > 0
    ]
    if not placeholders or not real:
        return
    payment = min(real, key=lambda p: (p.completed_at or p.created_at, p.created_at))
    for placeholder in placeholders:
        Refund.objects.filter(payment=placeholder).update(
            payment=payment, orkestapay_payment_id=payment.orkestapay_payment_id, updated_at=timezone.now()
        )
        placeholder.delete()
        del known[placeholder.orkestapay_payment_id]
        if order.orkestapay_payment_id == placeholder.orkestapay_payment_id:
            order.orkestapay_payment_id = payment.orkestapay_payment_id
        logger.info(
            "Order %s: placeholder payment %s replaced by %s",
            order.merchant_order_id,
            placeholder.orkestapay_payment_id,
            payment.orkestapay_payment_id,
        )


def settle_refunds(payment: Payment, remote: RemotePayment, refunds: Iterable[Refund]) -> list[Refund]:
    """Settle our REQUESTED or PENDING refunds of ``payment`` whose transaction ``remote`` lists with a final
    status (SUCCESS: succeeded; FAILED, DECLINED, REJECTED: failed). Return the refunds that changed."""
    outcomes = {}
    for transaction in remote.transactions:
        transaction_id, status = transaction.get("transaction_id"), transaction.get("status")
        if isinstance(transaction_id, str) and transaction_id and isinstance(status, str):
            remote_status = status.strip().upper()
            outcomes[transaction_id] = (remote_status, REFUND_TRANSACTION_OUTCOMES.get(remote_status))
    settled = []
    for refund in refunds:
        in_flight = refund.status in UNSETTLED_REFUNDS
        if refund.payment_id != payment.pk or not in_flight or not refund.transaction_id:
            continue
        remote_status, outcome = outcomes.get(refund.transaction_id, ("", None))
        if outcome is None:
            continue
        refund.status, refund.remote_status = outcome, remote_status[:40]
        refund.save(update_fields=["status", "remote_status", "updated_at"])
        logger.info("Refund %s of payment %s settled: %s", refund.pk, payment.orkestapay_payment_id, outcome)
        settled.append(refund)
    return settled


def mirror_external_refunds(order: Order, payment: Payment, refunds: MutableSequence[Refund]) -> Refund | None:
    """Record, as a succeeded ``origin=orkestapay`` refund, what OrkestaPay reports refunded of ``payment`` beyond
    what our refunds account for (succeeded, and in flight: requested or pending). Appends it to ``refunds``.

    Where OrkestaPay reports no refunded amount, nothing can be mirrored.
    """
    accounted = sum(
        (
            Decimal(r.amount)
            for r in refunds
            if r.payment_id == payment.pk and (r.status == RefundStatus.SUCCEEDED or r.status in UNSETTLED_REFUNDS)
        ),
        start=Decimal("0.00"),
    )
    reported = Decimal(payment.refunded_amount).quantize(CENT)
    excess = reported - accounted
    if excess <= 0:
        return None
    key = f"mirror:{payment.orkestapay_payment_id}:{reported}"
    if len(key) > 64:
        key = "mirror:" + hashlib.sha256(key.encode()).hexdigest()[:57]
    if any(r.idempotency_key == key for r in refunds):
        logger.warning("Payment %s: refund %s already mirrored", payment.orkestapay_payment_id, key)
        return None
    mirrored = Refund.objects.create(
        order=order,
        payment=payment,
        orkestapay_payment_id=payment.orkestapay_payment_id,
        amount=excess,
        description="Refund made outside this shop, reported by OrkestaPay",
        idempotency_key=key,
        origin=RefundOrigin.ORKESTAPAY,
        status=RefundStatus.SUCCEEDED,
        remote_status=payment.remote_status,
        requested_by="OrkestaPay",
    )
    refunds.append(mirrored)
    logger.info("Order %s: mirrored a refund of %s made outside the shop", order.merchant_order_id, excess)
    return mirrored
