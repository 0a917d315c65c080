"""Applying what OrkestaPay reports about an order's attempts, in one transaction under the order's row lock:
every payment recorded in the ledger, each attempt closed or reopened from what was read, our refunds settled and
refunds made outside the shop mirrored, and the order's status derived from the ledger and applied with its
reviews and signals. Returns, reconciliation, expiry and webhooks all come through :func:`apply_reads`; code that
changed the ledger otherwise (refunds) calls :func:`refresh_order_status`.
"""

from __future__ import annotations

import logging
import uuid
from collections.abc import Iterable, Sequence
from dataclasses import dataclass

from django.db import transaction
from django.utils import timezone

from .. import signals
from ..client import RemotePayment
from ..models import (
    Checkout,
    Order,
    Payment,
    PaymentStatus,
    Refund,
)
from .attempts import AttemptRead, apply_attempt_read, flag_unusable, reported_payments
from .derive import derive_status
from .ledger import load_payments, mirror_external_refunds, record_payment, settle_refunds
from .locking import lock_order
from .status import announce_refunds, apply_status
from .transitions import flag_review, send_on_commit

# One logger for the whole service layer, named as before the split, so a shop's logging configuration and its
# log filters keep working.
logger = logging.getLogger("django_orkestapay.services")

_ORDER_FIELDS = [
    "remote_status",
    "last_synced_at",
    "last_error",
    "needs_review",
    "review_code",
    "review_reason",
    "orkestapay_payment_id",
    "stale_payment",
    "updated_at",
]


@dataclass(frozen=True)
class SyncResult:
    """What confirming an order with the API did: whether its status changed, OrkestaPay's status of the attempt
    read, and whether the order needs a person's review."""

    order: Order
    changed: bool
    remote_status: str
    flagged: bool = False


def apply_reads(
    order_id: uuid.UUID,
    reads: Sequence[AttemptRead],
    *,
    close: tuple[uuid.UUID, str] | None = None,
    extra: Sequence[RemotePayment] = (),
    locked: Order | None = None,
) -> SyncResult:
    """Apply API reads of some of an order's attempts, exactly once, under the order's row lock.

    ``close`` (a checkout id and CANCELED or EXPIRED) closes that attempt, but only when the read shows it still
    open: never while a payment on it is in progress or completed. ``extra``: payment objects from elsewhere (signed
    webhook bodies); they only fill in the details of payments the API names (:func:`.attempts.reported_payments`).
    ``locked``: the order ``order_id`` names, when the caller's transaction has locked it already
    (:func:`.locking.lock_order_row`).
    """
    # No savepoint when nested (process_event): a failure here rolls the caller's whole transaction back anyway.
    with transaction.atomic(savepoint=False):
        order = locked if locked is not None else lock_order(order_id)
        checkouts = list(order.checkouts.all())
        by_pk = {checkout.pk: checkout for checkout in checkouts}
        answers = [reported_payments(read, extra) for read in reads]
        known = load_payments(order, {payment_id for merged in answers for payment_id in merged})
        # Only a payment completed before this read can have refunds: otherwise they need no query.
        completed_before = _completed(order, known.values())
        had_money = bool(completed_before)
        order.last_synced_at = timezone.now()
        order.last_error = ""  # the API answered: an earlier "could not confirm" no longer describes the order
        remote_status = ""
        for read, merged in zip(reads, answers, strict=True):
            checkout = by_pk[read.checkout.pk]
            remote_status = remote_status or read.remote.status
            if read.remote.order_id == order.orkestapay_order_id:
                order.remote_status = read.remote.status[:40]
            apply_attempt_read(order, checkout, read, merged, known, close)
            flag_unusable(order, read, merged)
        payments = [payment for payment in known.values() if payment.order_id == order.pk]
        refunds = list(order.refunds.all()) if had_money else []
        for merged in answers:
            for answer in merged.values():
                _refunds_reported(order, known.get(answer.payment_id), answer, refunds)
        changed = _finish(order, payments, refunds, checkouts, completed_before=completed_before)
    return SyncResult(order=order, changed=changed, remote_status=remote_status, flagged=order.needs_review)


def _completed(order: Order, payments: Iterable[Payment]) -> set[uuid.UUID]:
    """The ids of ``order``'s completed payments among ``payments`` (before an apply changes them)."""
    return {p.pk for p in payments if p.order_id == order.pk and p.status == PaymentStatus.COMPLETED}


def apply_payment_read(remote: RemotePayment) -> SyncResult | None:
    """Apply one payment read on its own (``GET /v1/payments/{id}``, say a refund's read-back) to the order whose
    ledger holds it, under that order's lock: the row updated, our refunds settled, refunds made elsewhere
    mirrored, the order's status derived. ``None`` when no payment of ours has that id."""
    rows = Payment.objects.filter(orkestapay_payment_id=remote.payment_id)
    order_id = rows.values_list("order_id", flat=True).first()
    if order_id is None:
        return None
    with transaction.atomic(savepoint=False):
        order = lock_order(order_id)
        known = load_payments(order, [remote.payment_id])
        completed_before = _completed(order, known.values())
        row = record_payment(order, remote, known=known)
        refunds = list(order.refunds.all())
        _refunds_reported(order, row, remote, refunds)
        payments = [payment for payment in known.values() if payment.order_id == order.pk]
        changed = _finish(order, payments, refunds, list(order.checkouts.all()), completed_before=completed_before)
    return SyncResult(order=order, changed=changed, remote_status=remote.status, flagged=order.needs_review)


def _refunds_reported(order: Order, row: Payment | None, answer: RemotePayment, refunds: list[Refund]) -> None:
    """What a completed payment's answer says about refunds: ours settled, those made elsewhere mirrored."""
    if row is not None and row.order_id == order.pk and row.status == PaymentStatus.COMPLETED:
        settle_refunds(row, answer, refunds)
        mirror_external_refunds(order, row, refunds)


def refresh_order_status(order: Order) -> bool:
    """Derive a *locked* order's status from its ledger and apply it (inside the caller's transaction): for code
    that changed payments or refunds itself. Returns whether the status changed."""
    payments = list(order.payments.all())
    return _finish(order, payments, list(order.refunds.all()), list(order.checkouts.all()))


def _finish(
    order: Order,
    payments: Sequence[Payment],
    refunds: Sequence[Refund],
    checkouts: Sequence[Checkout],
    *,
    completed_before: set[uuid.UUID] | None = None,
) -> bool:
    """Derive the order's status from its ledger and apply it: reviews, the first payment's id, the transition
    and the signals (``stale_order_paid`` instead of ``order_paid`` for changed contents; ``order_paid_twice`` when
    the completed payments counted go from fewer than two to two or more in this apply: ``completed_before`` holds
    the ids completed before it, ``None`` when it changed no payment; ``order_refunded`` for each refund that
    succeeded since the last apply). Saves the order. Returns whether the status changed."""
    derived = derive_status(order, payments, refunds, checkouts, now=timezone.now())
    for review in derived.reviews:
        flag_review(order, review.code, review.reason)
    counted_ids = [p.orkestapay_payment_id for p in derived.counted]
    if counted_ids and order.orkestapay_payment_id not in counted_ids:  # unset, or a payment that does not count
        order.orkestapay_payment_id = counted_ids[0]
    changed = apply_status(order, derived)
    if not changed:
        order.save(update_fields=_ORDER_FIELDS)
    if completed_before is not None and len(derived.counted) > 1:
        counted_before = [p for p in derived.counted if p.pk in completed_before]
        if len(counted_before) < 2:
            send_on_commit(signals.order_paid_twice, order, payments=derived.counted)
    announce_refunds(order, derived, refunds)
    return changed
