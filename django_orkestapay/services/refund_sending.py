"""Sending a recorded refund to OrkestaPay and applying what comes back, so that only an explicit refusal frees the
amount: the outcome of each answer, the read-back of a payment when an answer is not enough, and the order's
refund status afterwards.

Outcomes: SUCCESS (or SUCCEEDED, COMPLETED) succeeds; FAILED, DECLINED, REJECTED or ERROR fails; anything else
(PENDING, PROCESSING, a status never seen) is PENDING, its amount still reserved. A timeout, a dropped connection, a
5xx, a 429, a 401/403, a 409 or an unreadable answer leaves the refund as it was (reserved) with the error noted. A
400, 404 or 422 fails it, unless the request may have reached OrkestaPay before under the same key (a resend, or a
first send the client retried): then the payment is read back first, and money that already left settles it.
A refund sent before is resent only after reading its payment back (:func:`resend_refund`), and only when that
cannot refund twice: when the read proves it did not happen, or (with ``TRUST_IDEMPOTENCY_KEYS``) while OrkestaPay
still remembers its key. No public source shows that OrkestaPay honours the key, so by default a refund request is
never repeated while it may have reached OrkestaPay: what cannot be settled from OrkestaPay's answers is left for a
person, who marks it succeeded or failed. A refund OrkestaPay answered *pending*, which its payment cannot settle
(no transaction id, no refunded amount: as the public record shows them), is settled by a ``payment.refund`` event
about its payment when it is the one refund of ours that event can be about (:func:`settle_by_refund_event`).
"""

from __future__ import annotations

import logging
from collections.abc import Iterable, Iterator
from contextlib import ExitStack, contextmanager
from datetime import timedelta
from decimal import Decimal
from typing import Any, NoReturn

from django.db import models, transaction
from django.utils import timezone
from django.utils.translation import gettext as _

from .. import conf
from ..client import OrkestaPayClient
from ..exceptions import (
    InvalidRequestError,
    NotFoundError,
    OrkestaPayError,
    RefundNotAllowedError,
)
from ..models import UNSETTLED_REFUNDS, Order, Refund, RefundOrigin, RefundStatus, ReviewCode
from .api_client import _jsonable, get_client
from .apply import apply_payment_read, refresh_order_status
from .locking import lock_order
from .transitions import flag_review

# One logger for the whole service layer, named as before the split, so a shop's logging configuration and its
# log filters keep working.
logger = logging.getLogger("django_orkestapay.services")

SUCCEEDED_STATUSES = frozenset({"SUCCESS", "SUCCEEDED", "COMPLETED"})
REFUSED_STATUSES = frozenset({"FAILED", "DECLINED", "REJECTED", "ERROR"})


def refund_outcome(remote_status: str) -> RefundStatus:
    """What an OrkestaPay refund (or REFUND transaction) status means for our refund: unknown means pending."""
    status = remote_status.strip().upper()
    if status in SUCCEEDED_STATUSES:
        return RefundStatus.SUCCEEDED
    if status in REFUSED_STATUSES:
        return RefundStatus.FAILED
    return RefundStatus.PENDING


@contextmanager
def own_transaction() -> Iterator[None]:
    """A transaction that commits when the block ends, even if the caller holds one: refunds are recorded before the
    call and the call runs outside any transaction, or not at all (:class:`RefundNotAllowedError`)."""
    stack = ExitStack()
    try:
        stack.enter_context(transaction.atomic(durable=True))
    except RuntimeError as exc:  # nested in ATOMIC_REQUESTS or in the caller's transaction.atomic()
        raise RefundNotAllowedError(
            _(
                "Refunds must run outside any database transaction, so the refund is recorded (committed) before "
                "OrkestaPay is called. Mark the view with @transaction.non_atomic_requests (ATOMIC_REQUESTS is on) "
                "or call this outside transaction.atomic()."
            )
        ) from exc
    with stack:
        yield


def send_refund(refund: Refund, *, seen_attempts: int | None = None) -> Refund:
    """Send (or resend) a recorded refund with its idempotency key and apply the answer.

    Returns the refund SUCCEEDED or PENDING; raises :class:`RefundNotAllowedError` (or the API's 4xx) when OrkestaPay
    refused it (FAILED), and the :class:`OrkestaPayError` when the outcome is unknown (the refund keeps its status).
    The send is claimed first, in one conditional ``UPDATE``: only while the refund is unsettled and has been sent
    ``seen_attempts`` times (default: ``refund.attempts``), the count its caller decided on. So two processes that
    decide to send the same refund at once (two sweeps, a sweep and an operator's retry) send it once; the other
    gets the refund back as the database holds it, unsent.
    """
    expected = refund.attempts if seen_attempts is None else seen_attempts
    with own_transaction():
        claimed = Refund.objects.filter(pk=refund.pk, attempts=expected, status__in=UNSETTLED_REFUNDS).update(
            attempts=models.F("attempts") + 1, updated_at=timezone.now()
        )
    refund.refresh_from_db()
    if not claimed:
        logger.warning("Refund %s was sent or settled by another process meanwhile: not sent again", refund.pk)
        return refund
    client = get_client()
    trusted = trusts_idempotency_keys()
    try:
        result = client.refund_payment(
            refund.orkestapay_payment_id,
            amount=refund.amount,
            description=refund.description,
            idempotency_key=refund.idempotency_key,
            retry=trusted,
        )
    except OrkestaPayError as exc:
        explicit = isinstance(exc, InvalidRequestError | NotFoundError) and exc.status_code != 409
        if not explicit:
            _note_error(refund, exc)
            raise
        if refund.attempts > 1 or exc.attempts > 1:  # a resend, or the client retried: it may have reached OrkestaPay
            found = _read_back_or_note(refund, client)
            if found is None and refund.status == RefundStatus.PENDING:
                found = RefundStatus.PENDING  # OrkestaPay took it: only the refusal of its transaction fails it
            if found in (RefundStatus.SUCCEEDED, RefundStatus.PENDING):
                return settle_refund(refund, found, error="" if found == RefundStatus.SUCCEEDED else str(exc))
            if found is None:  # the refusal may be of a repeat of a refund that went through ("nothing left")
                _leave_for_a_person(
                    refund,
                    f"OrkestaPay refused its resend ({exc.message[:200]}), and nothing shows "
                    "whether the first send went through",
                )
        settle_refund(refund, RefundStatus.FAILED, error=str(exc), raw=exc.response_body)
        raise
    outcome = refund_outcome(result.status)
    other_amount = result.amount is not None and result.amount != refund.amount
    settle_refund(
        refund,
        outcome,
        transaction_id=result.transaction_id,
        remote_status=result.status,
        raw=result.raw,
        error=(result.message or "") if outcome == RefundStatus.FAILED else "",
        review=f"OrkestaPay answered the refund of {refund.amount} (refund {refund.pk}) with an amount of "
        f"{result.amount}: check which amount left"
        if other_amount
        else "",
    )
    if outcome == RefundStatus.FAILED:
        raise RefundNotAllowedError(
            f"OrkestaPay answered {result.status}: {result.message or 'no message'}", response_body=result.raw
        )
    return refund


def settle_pending(refund: Refund) -> Refund:
    """Read a PENDING refund's payment back and settle the refund when its REFUND transaction has finished."""
    client = get_client()
    found = _read_back_or_note(refund, client)
    if found in (RefundStatus.SUCCEEDED, RefundStatus.FAILED) and found != refund.status:
        settle_refund(refund, found)
    return refund


def _read_back_or_note(refund: Refund, client: OrkestaPayClient) -> RefundStatus | None:
    try:
        return read_back(refund, client)
    except OrkestaPayError as exc:
        _note_error(refund, exc)
        raise


def read_back(refund: Refund, client: OrkestaPayClient) -> RefundStatus | None:
    """What OrkestaPay's payment (``GET /v1/payments/{id}``) says of ``refund``, after applying that read to the
    ledger (the payment row, refunds settled by transaction id, refunds made elsewhere mirrored): the status of the
    REFUND transaction with our ``transaction_id``; else, from the payment's refunded amount, SUCCEEDED when it
    covers this refund on top of every other refund of the payment that succeeded or is in flight (requested,
    pending), REQUESTED when it proves this refund was not made (it does not cover this one on top of those that
    succeeded, and no unsettled refund transaction OrkestaPay lists could be this one); else ``None``: no
    evidence (no refunded amount reported), or evidence that fits another refund of ours as well as this one."""
    remote = client.get_remote_payment(refund.orkestapay_payment_id)
    apply_payment_read(remote)
    for item in remote.transactions:
        if refund.transaction_id and item.get("transaction_id") == refund.transaction_id:
            return refund_outcome(str(item.get("status") or ""))
    if remote.refunded is None:
        return None
    others = list(Refund.objects.filter(payment_id=refund.payment_id).exclude(pk=refund.pk))
    succeeded = sum((r.amount for r in others if r.status == RefundStatus.SUCCEEDED), start=Decimal("0.00"))
    in_flight = sum((r.amount for r in others if r.status in UNSETTLED_REFUNDS), start=Decimal("0.00"))
    if remote.refunded >= succeeded + in_flight + refund.amount:
        return RefundStatus.SUCCEEDED
    ours = {r.transaction_id for r in others if r.transaction_id}
    if remote.refunded < succeeded + refund.amount and not _unsettled_unknown_refund(remote.transactions, ours):
        return RefundStatus.REQUESTED
    return None


def _unsettled_unknown_refund(transactions: Iterable[dict[str, Any]], ours: set[str]) -> bool:
    """Whether OrkestaPay lists a refund transaction not settled yet that is none of ``ours`` (it may be the one
    whose answer was lost: a refund in progress is not in the refunded amount yet)."""
    for item in transactions:
        kind = str(item.get("type") or "REFUND").upper()
        status = str(item.get("status") or "").strip().upper()
        settled = status in SUCCEEDED_STATUSES or status in REFUSED_STATUSES
        if kind == "REFUND" and not settled and item.get("transaction_id") not in ours:
            return True
    return False


def resend_refund(refund: Refund) -> Refund:
    """Resend a refund that was sent before (its answer lost, or answered pending without a transaction id), only
    when that cannot refund twice. Its payment is read back first (and applied to the ledger): when that proves the
    refund happened, or shows its transaction's outcome, it is settled without a call. When it proves the refund
    did not happen, a requested refund is resent. Otherwise (no evidence, or evidence that fits another refund as
    well) it is resent with its own key only while OrkestaPay may still remember that key
    (``IDEMPOTENCY_KEY_LIFETIME`` after it was made); after that it is left for a person: flagged
    ``refund_unknown`` on its order, marked ``needs_review``, still requested (its amount reserved), and
    :class:`RefundNotAllowedError` is raised."""
    seen_attempts = refund.attempts  # before the read-back: a send by another process meanwhile makes ours void
    found = _read_back_or_note(refund, get_client())
    refund.refresh_from_db()  # the read may have settled it by its transaction id
    if refund.status not in UNSETTLED_REFUNDS:
        return refund
    if found in (RefundStatus.SUCCEEDED, RefundStatus.FAILED, RefundStatus.PENDING):
        return refund if found == refund.status else settle_refund(refund, found)
    lifetime = timedelta(seconds=float(conf.get("IDEMPOTENCY_KEY_LIFETIME")))
    within = timezone.now() - refund.created_at < lifetime
    if refund.status == RefundStatus.PENDING:  # OrkestaPay took it: never sent again, its outcome awaited
        if within:
            return refund
        _leave_for_a_person(refund, "OrkestaPay accepted it as pending and has said nothing of its outcome since")
    if found == RefundStatus.REQUESTED:  # proven not made: a resend cannot refund twice
        return send_refund(refund, seen_attempts=seen_attempts)
    if trusts_idempotency_keys() and within:
        return send_refund(refund, seen_attempts=seen_attempts)
    _leave_for_a_person(
        refund,
        "its outcome is unknown and OrkestaPay may have forgotten its idempotency key"
        if trusts_idempotency_keys()
        else "its outcome is unknown and OrkestaPay is not trusted to honour its idempotency key "
        "(TRUST_IDEMPOTENCY_KEYS), so it is not resent",
    )


def trusts_idempotency_keys() -> bool:
    """Whether a refund may be repeated under its ``Idempotency-Key`` (``TRUST_IDEMPOTENCY_KEYS``)."""
    return bool(conf.get("TRUST_IDEMPOTENCY_KEYS"))


def _leave_for_a_person(refund: Refund, why: str) -> NoReturn:
    reason = (
        f"refund of {refund.amount} (payment {refund.orkestapay_payment_id}, refund {refund.pk}): {why}; check the "
        "payment in OrkestaPay's portal, then mark the refund succeeded or failed"
    )
    with transaction.atomic():
        order = lock_order(refund.order_id)
        if flag_review(order, ReviewCode.REFUND_UNKNOWN, reason):
            order.save(update_fields=["needs_review", "review_code", "review_reason", "updated_at"])
        refund.needs_review = True
        refund.error = reason
        refund.save(update_fields=["needs_review", "error", "updated_at"])
    raise RefundNotAllowedError(
        _(
            "The outcome of this refund of %(amount)s is unknown, so it was not sent again. Check the payment in "
            "OrkestaPay's portal, then use Mark refund succeeded if the money left, or Mark refund failed if it did "
            "not."
        )
        % {"amount": refund.amount}
    )


def settle_by_refund_event(order: Order, payment_id: str) -> Refund | None:
    """A ``payment.refund`` event ("a refund was issued") about ``payment_id`` of the *locked* ``order``, after the
    payment was read: settle our one refund it can be about, when OrkestaPay's answers cannot (the payment shows no
    refunded amount and no refund transactions, as the public record shows it): the only refund of ours of that
    payment OrkestaPay accepted as pending without a transaction id, with no other refund of ours of it unsettled
    (which could be the one issued). Anything else is left to the answers and to a person. Returns the refund
    settled, if any."""
    payment = order.payments.filter(orkestapay_payment_id=payment_id).first()
    if payment is None or _shows_refunds(payment.raw) or payment.refunded_amount:
        return None
    unsettled = list(Refund.objects.filter(payment=payment, origin=RefundOrigin.SHOP, status__in=UNSETTLED_REFUNDS))
    if len(unsettled) != 1 or unsettled[0].status != RefundStatus.PENDING or unsettled[0].transaction_id:
        return None
    refund = unsettled[0]
    logger.info("Order %s: refund %s settled by a payment.refund event", order.merchant_order_id, refund.pk)
    return settle_refund(refund, RefundStatus.SUCCEEDED, remote_status="payment.refund")


def _shows_refunds(raw: Any) -> bool:
    """Whether a payment's answer says anything of refunds (a refunded amount, refund transactions)."""
    if not isinstance(raw, dict):
        return False
    amount = raw.get("amount")
    refunded = isinstance(amount, dict) and amount.get("refunded") is not None
    transactions = raw.get("transactions")
    kinds = (
        [str(t.get("type") or "").upper() for t in transactions if isinstance(t, dict)]
        if isinstance(transactions, list)
        else []
    )
    return refunded or "REFUND" in kinds


def settle_refund(
    refund: Refund,
    status: RefundStatus,
    *,
    transaction_id: str | None = None,
    remote_status: str | None = None,
    raw: Any = None,
    error: str = "",
    review: str = "",
) -> Refund:
    """Record ``status`` on the refund under its order's row lock, and what it means for the order. ``review``: a
    reason to flag the order ``refund_unknown`` (recorded on the refund's error too)."""
    with transaction.atomic():
        order = lock_order(refund.order_id)
        refund.status = status
        refund.transaction_id = (transaction_id or refund.transaction_id)[:64]
        refund.remote_status = (remote_status or refund.remote_status)[:40]
        if isinstance(raw, dict):
            refund.raw_response = _jsonable(raw)
        refund.error = "; ".join(part for part in (error, review) if part)
        refund.save(update_fields=["status", "transaction_id", "remote_status", "raw_response", "error", "updated_at"])
        if review and flag_review(order, ReviewCode.REFUND_UNKNOWN, review):
            order.save(update_fields=["needs_review", "review_code", "review_reason", "updated_at"])
        if status == RefundStatus.FAILED:
            _note_on_order(order, refund, error)
        elif status == RefundStatus.SUCCEEDED:
            order.last_error = ""  # saved with the status derived again from the ledger (refresh_order_status)
            refresh_order_status(order)
    logger.info("Order %s: refund of %s is %s", order.merchant_order_id, refund.amount, status)
    return refund


def _note_error(refund: Refund, exc: OrkestaPayError) -> None:
    """An outcome we do not know: keep the refund's status (its amount stays reserved), note the error."""
    with transaction.atomic():
        order = lock_order(refund.order_id)
        refund.error = str(exc)
        if isinstance(exc.response_body, dict):
            refund.raw_response = _jsonable(exc.response_body)
        refund.save(update_fields=["error", "raw_response", "updated_at"])
        _note_on_order(order, refund, str(exc))


def _note_on_order(order: Order, refund: Refund, error: str) -> None:
    order.last_error = f"{timezone.now():%Y-%m-%d %H:%M:%S} refunding {refund.amount}: {error}"
    order.save(update_fields=["last_error", "updated_at"])
    logger.error("Order %s: refund of %s: %s", order.merchant_order_id, refund.amount, error)
