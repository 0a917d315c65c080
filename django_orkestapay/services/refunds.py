"""Refunds: what is left to refund of each completed payment, a refund recorded (committed, keyed once per
operator intent) before OrkestaPay is called, and the reconciliation of refunds whose outcome is not known yet.

A refund belongs to a completed :class:`~django_orkestapay.models.Payment`, never to whatever payment id came last.
What is left of a payment is its amount minus what is taken: our refunds that succeeded or are still in flight
(requested, pending), mirrored refunds made in OrkestaPay's portal, or OrkestaPay's own refunded amount when that
is more. Sending and the outcomes live in :mod:`.refund_sending`, the intents in :mod:`.refund_intents`.
"""

from __future__ import annotations

import logging
import uuid
from collections.abc import Iterable
from datetime import timedelta
from decimal import Decimal
from typing import Any

from django.db import IntegrityError, models, transaction
from django.utils import timezone
from django.utils.translation import gettext as _

from ..exceptions import RefundAlreadySentError, RefundNotAllowedError
from ..models import UNSETTLED_REFUNDS, Order, Payment, PaymentOrigin, PaymentStatus, Refund, RefundOrigin, RefundStatus
from .batch import BatchSummary, run_batch
from .derive import is_reversed
from .locking import lock_order
from .money import validate_amount
from .refund_availability import refuse_when_unavailable
from .refund_intents import RefundIntent
from .refund_sending import own_transaction, resend_refund, send_refund, settle_pending, settle_refund

# One logger for the whole service layer, named as before the split, so a shop's logging configuration and its
# log filters keep working.
logger = logging.getLogger("django_orkestapay.services")

ZERO = Decimal("0.00")
#: A refund still REQUESTED this long after its last send is not in flight any more: reconcile_refunds() resends it.
RESEND_AFTER = timedelta(minutes=5)


def completed_payments(order: Order) -> list[Payment]:
    """The order's completed payments in its currency, from its ledger (one query), oldest first: what can be
    refunded (what :func:`refundable_amount` adds up and :func:`refund_order` chooses from)."""
    payments = order.payments.filter(status=PaymentStatus.COMPLETED).order_by("created_at")
    return [p for p in payments if p.currency.upper() in ("", order.currency.upper())]


def _left_of(payments: list[Payment]) -> dict[Any, Decimal]:
    """What is left to refund of each payment (one query): its amount minus what is taken, never negative; nothing
    of a payment OrkestaPay now reports reversed (charged back, voided: :func:`.derive.is_reversed`)."""
    taken = dict(
        Refund.objects.filter(payment__in=[payment.pk for payment in payments])
        .exclude(status=RefundStatus.FAILED)
        .values("payment")
        .annotate(total=models.Sum("amount"))
        .values_list("payment", "total")
    )
    return {
        payment.pk: ZERO
        if is_reversed(payment)
        else max(payment.amount - max(taken.get(payment.pk) or ZERO, payment.refunded_amount), ZERO)
        for payment in payments
    }


def refundable_amount_of(payment: Payment) -> Decimal:
    """What is left to refund of one payment (zero unless it completed)."""
    if payment.status != PaymentStatus.COMPLETED:
        return ZERO
    return _left_of([payment])[payment.pk]


def refundable_amount(order: Order) -> Decimal:
    """What is left to refund of an order: the sum over its completed payments in its currency."""
    payments = completed_payments(order)
    return sum(_left_of(payments).values(), start=ZERO) if payments else ZERO


def refund_order(
    order: Order,
    *,
    amount: Decimal | None = None,
    payment: Payment | None = None,
    description: str = "",
    requested_by: str = "",
    intent: RefundIntent | None = None,
) -> Refund:
    """Refund ``amount`` (default: everything left) of the order's completed payment through OrkestaPay.

    With no ``payment``, the order's only completed payment with something left is refunded; when several have
    something left, this refuses (refund a payment with :func:`refund_payment`). The :class:`Refund` is committed
    under the order's row lock before the call, in a transaction of its own (so this refuses to run inside another
    transaction). ``intent`` (from the confirmation page) makes a repeat of the same page find its refund
    (:class:`RefundAlreadySentError`) and a page shown before another refund is refused. Returns the refund
    SUCCEEDED or PENDING; raises :class:`RefundNotAllowedError` or an :class:`OrkestaPayError` otherwise:
    :class:`~django_orkestapay.exceptions.RefundsUnavailableError`, before anything is recorded or sent, when
    OrkestaPay says the portal has refunds turned off (see :func:`refund_availability`; unknown lets it through).
    """
    if payment is not None:
        if payment.order_id != order.pk:
            raise RefundNotAllowedError(f"Payment {payment.orkestapay_payment_id} is not a payment of this order")
        return refund_payment(payment, amount=amount, description=description, requested_by=requested_by, intent=intent)
    refuse_when_unavailable()  # before the lock: it may ask OrkestaPay
    with own_transaction():
        order = lock_order(order.pk)
        payments = completed_payments(order)
        if intent is not None:
            _check_intent(intent, order, payments, current_version=order.refunds.count())
        left = _left_of(payments)
        if intent is not None:
            _check_shown(intent, order, sum(left.values(), start=ZERO))
        candidates = [p for p in payments if left[p.pk] > 0]
        if len(candidates) > 1:
            raise RefundNotAllowedError(
                _("Order %(reference)s has several payments with money left: refund a payment.")
                % {"reference": order.merchant_order_id}
            )
        if not candidates:
            raise RefundNotAllowedError(
                _("Order %(reference)s has no payment left to refund.") % {"reference": order.merchant_order_id}
            )
        _refuse_placeholder(candidates[0])
        refund = _record(order, candidates[0], left[candidates[0].pk], amount, description, requested_by, intent)
    return send_refund(refund)


def refund_payment(
    payment: Payment,
    *,
    amount: Decimal | None = None,
    description: str = "",
    requested_by: str = "",
    intent: RefundIntent | None = None,
) -> Refund:
    """Refund ``amount`` (default: everything left) of one completed payment; see :func:`refund_order`."""
    refuse_when_unavailable()  # before the lock: it may ask OrkestaPay
    with own_transaction():
        order = lock_order(payment.order_id)
        payment = Payment.objects.get(pk=payment.pk)
        if intent is not None:
            _check_intent(intent, payment, [payment], current_version=payment.refunds.count())
        left = refundable_amount_of(payment)
        if intent is not None:
            _check_shown(intent, payment, left)
        if left <= 0:
            raise RefundNotAllowedError(
                _("Payment %(payment)s has nothing left to refund.") % {"payment": payment.orkestapay_payment_id}
            )
        _refuse_placeholder(payment)
        refund = _record(order, payment, left, amount, description, requested_by, intent)
    return send_refund(refund)


def _check_intent(
    intent: RefundIntent, target: Order | Payment, payments: list[Payment], *, current_version: int
) -> None:
    """A repeat of the same page finds its refund; a page shown before the target changed is refused."""
    keys = [intent.idempotency_key(payment.orkestapay_payment_id) for payment in payments]
    existing = Refund.objects.filter(idempotency_key__in=keys).first() if keys else None
    if existing is not None:
        raise RefundAlreadySentError(
            _("Already sent: this confirmation made refund %(refund)s (%(status)s); nothing new was sent.")
            % {"refund": existing.amount, "status": existing.get_status_display()},
            refund=existing,
        )
    if intent.version_of(target) != current_version:
        if isinstance(target, Order):
            text = _("Order %(name)s changed since this page was shown; review it again.")
            raise RefundNotAllowedError(text % {"name": target.merchant_order_id})
        text = _("Payment %(name)s changed since this page was shown; review it again.")
        raise RefundNotAllowedError(text % {"name": target.orkestapay_payment_id})


def _check_shown(intent: RefundIntent, target: Order | Payment, left: Decimal) -> None:
    """A page that showed another amount left than there is now (a refund settled, or mirrored, since) is refused:
    the operator confirmed that amount, not this one."""
    shown = intent.shown_amount(target)
    if shown is None or shown == left:
        return
    name = target.merchant_order_id if isinstance(target, Order) else target.orkestapay_payment_id
    raise RefundNotAllowedError(
        _("%(name)s: %(left)s is left to refund now, but the page showed %(shown)s; review it again. Nothing was sent.")
        % {"name": name, "left": left, "shown": shown}
    )


def _refuse_placeholder(payment: Payment) -> None:
    if payment.origin == PaymentOrigin.PLACEHOLDER:
        raise RefundNotAllowedError(
            _("Payment %(payment)s: OrkestaPay has not listed this payment yet; refresh the order first.")
            % {"payment": payment.orkestapay_payment_id}
        )


def _record(
    order: Order,
    payment: Payment,
    left: Decimal,
    amount: Decimal | None,
    description: str,
    requested_by: str,
    intent: RefundIntent | None,
) -> Refund:
    wanted = left if amount is None else validate_amount(amount, "amount", currency=payment.currency or order.currency)
    if wanted <= 0 or wanted > left:
        raise RefundNotAllowedError(
            _("Order %(reference)s: %(asked)s %(currency)s asked, %(left)s can be refunded")
            % {"reference": order.merchant_order_id, "asked": wanted, "currency": order.currency, "left": left}
        )
    key = uuid.uuid4().hex if intent is None else intent.idempotency_key(payment.orkestapay_payment_id)
    try:
        with transaction.atomic():
            return Refund.objects.create(
                order=order,
                payment=payment,
                orkestapay_payment_id=payment.orkestapay_payment_id,
                amount=wanted,
                description=(description or f"Refund of order {order.merchant_order_id}")[:250],
                idempotency_key=key,
                origin=RefundOrigin.SHOP,
                requested_by=requested_by[:150],
            )
    except IntegrityError as exc:  # the same page, submitted twice at the same moment
        existing = Refund.objects.get(idempotency_key=key)
        raise RefundAlreadySentError(_("Already sent; nothing new was sent."), refund=existing) from exc


def retry_refund(refund: Refund) -> Refund:
    """Settle a refund whose outcome is not known: read a PENDING one back from OrkestaPay; resend a REQUESTED one
    (or a PENDING one without a transaction id to look for) with its own idempotency key, after reading its payment
    back when it was sent before (see :func:`~.refund_sending.resend_refund`: never resent once the key may be
    forgotten, unless OrkestaPay's refunded amount proves it did not happen). Nothing is resent while OrkestaPay
    says refunds are turned off (:class:`~django_orkestapay.exceptions.RefundsUnavailableError`; the refund stays
    as it is)."""
    refund = Refund.objects.get(pk=refund.pk)
    if refund.status == RefundStatus.PENDING and refund.transaction_id:
        return settle_pending(refund)
    if refund.status not in UNSETTLED_REFUNDS:
        raise RefundNotAllowedError(f"Refund {refund.pk} is {refund.status}; only an unsettled refund is resent")
    refuse_when_unavailable()
    return resend_refund(refund) if refund.attempts else send_refund(refund)


def retry_refunds(refunds: Iterable[Refund]) -> BatchSummary:
    """:func:`retry_refund` for several refunds; failures are recorded and counted, ``changed`` counts settled ones."""
    return run_batch(refunds, lambda refund: retry_refund(refund).status != refund.status)


def refunds_to_reconcile(*, resend_after: timedelta = RESEND_AFTER) -> models.QuerySet[Refund]:
    """Our refunds whose outcome is not known: PENDING ones, and REQUESTED ones not sent for ``resend_after`` (a
    more recent one may still be in flight). Those left for a person (``needs_review``) are not."""
    quiet_since = timezone.now() - resend_after
    return (
        Refund.objects.filter(origin=RefundOrigin.SHOP, needs_review=False)
        .filter(
            models.Q(status=RefundStatus.PENDING) | models.Q(status=RefundStatus.REQUESTED, updated_at__lte=quiet_since)
        )
        .order_by("created_at")
    )


def reconcile_refunds(refunds: Iterable[Refund] | None = None) -> BatchSummary:
    """Resend or read back every refund whose outcome is not known (``orkestapay_sync`` calls this)."""
    return retry_refunds(refunds_to_reconcile() if refunds is None else refunds)


def mark_refund_failed(refund: Refund, *, marked_by: str = "") -> Refund:
    """A person checked OrkestaPay's portal and found that a refund left for review (``needs_review``) did not
    happen: mark it failed, which frees its amount. Raises :class:`RefundNotAllowedError` for any other refund."""
    with transaction.atomic():
        lock_order(refund.order_id)
        refund = Refund.objects.get(pk=refund.pk)
        unsettled = refund.status in UNSETTLED_REFUNDS
        if not (refund.needs_review and unsettled):
            raise RefundNotAllowedError(
                _("Refund %(refund)s is not waiting for a person's check; nothing was changed.") % {"refund": refund.pk}
            )
        refund.needs_review = False
        refund.save(update_fields=["needs_review", "updated_at"])
        who = marked_by or "an operator"
        return settle_refund(refund, RefundStatus.FAILED, error=f"marked failed by {who} after checking the portal")


def mark_refund_succeeded(refund: Refund, *, marked_by: str = "") -> Refund:
    """A person checked OrkestaPay's portal and found that a refund left for review (``needs_review``) went through:
    mark it succeeded (the order's status follows, and ``order_refunded`` is sent). Raises
    :class:`RefundNotAllowedError` for any other refund."""
    with transaction.atomic():
        lock_order(refund.order_id)
        refund = Refund.objects.get(pk=refund.pk)
        if not (refund.needs_review and refund.status in UNSETTLED_REFUNDS):
            raise RefundNotAllowedError(
                _("Refund %(refund)s is not waiting for a person's check; nothing was changed.") % {"refund": refund.pk}
            )
        refund.needs_review = False
        refund.save(update_fields=["needs_review", "updated_at"])
        who = marked_by or "an operator"
        return settle_refund(
            refund, RefundStatus.SUCCEEDED, error=f"marked succeeded by {who} after checking the portal"
        )


def mark_refunds_succeeded(refunds: Iterable[Refund], *, marked_by: str = "") -> BatchSummary:
    """:func:`mark_refund_succeeded` for several refunds; refusals are counted as failures."""
    return run_batch(refunds, lambda refund: bool(mark_refund_succeeded(refund, marked_by=marked_by)))


def mark_refunds_failed(refunds: Iterable[Refund], *, marked_by: str = "") -> BatchSummary:
    """:func:`mark_refund_failed` for several refunds; refusals are counted as failures."""
    return run_batch(refunds, lambda refund: bool(mark_refund_failed(refund, marked_by=marked_by)))


def refund_orders(orders: Iterable[Order], *, requested_by: str = "") -> BatchSummary:
    """Refund what is left of each order; failures are recorded and counted."""
    return run_batch(orders, lambda order: bool(refund_order(order, requested_by=requested_by)))
