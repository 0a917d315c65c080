"""One attempt's read, applied inside :func:`.apply.apply_reads` (under the order's lock): the payments it reports
recorded in the ledger (an amount OrkestaPay's payment does not say taken from its order when the order vouches for
it, else held and flagged), the attempt's own status, its disagreements with our order (disputed), and what in the
answer could not be used (flagged, the answer kept for the admin)."""

from __future__ import annotations

import json
import logging
import uuid
from collections.abc import Sequence
from dataclasses import dataclass, replace

from django.utils import timezone

from ..client import RemoteOrder, RemotePayment
from ..models import Checkout, CheckoutStatus, Order, Payment, PaymentOrigin, PaymentStatus, ReviewCode
from .api_client import _jsonable
from .derive import CENT, DISPUTED_PREFIX, REMOTE_PAID, checkout_status, map_payment_status
from .ledger import record_payment, replace_placeholders
from .transitions import flag_review

# One logger for the whole service layer, named as before the split, so a shop's logging configuration and its
# log filters keep working.
logger = logging.getLogger("django_orkestapay.services")


@dataclass(frozen=True)
class AttemptRead:
    """What the API said about one attempt: its OrkestaPay order, its payments (each completed from its own read
    where the list lacked it), and what in those answers could not be used (``problems``, one line each)."""

    checkout: Checkout
    remote: RemoteOrder
    listed: tuple[RemotePayment, ...] = ()
    problems: tuple[str, ...] = ()


def payment_mismatches(order: Order, checkout: Checkout, remote: RemoteOrder) -> list[str]:
    """What in the API's order disagrees with ours (amount, currency, reference); empty when it all matches. What
    the answer does not say (no public source shows the total and currency on a read) is no disagreement: the
    payments' own amounts and currencies are then what the ledger compares."""
    problems = []
    if remote.total_amount is not None and remote.total_amount.quantize(CENT) != order.total_amount:
        problems.append(f"amount: OrkestaPay {remote.total_amount}, ours {order.total_amount}")
    if remote.currency is not None and remote.currency.upper() != order.currency.upper():
        problems.append(f"currency: OrkestaPay {remote.currency}, ours {order.currency}")
    expected_reference = checkout.merchant_reference or order.merchant_order_id
    if remote.merchant_order_id is not None and remote.merchant_order_id != expected_reference:
        problems.append(f"merchant_order_id: OrkestaPay {remote.merchant_order_id!r}, ours {expected_reference!r}")
    if checkout.orkestapay_order_id and remote.order_id != checkout.orkestapay_order_id:
        problems.append(f"order_id: OrkestaPay {remote.order_id!r}, ours {checkout.orkestapay_order_id!r}")
    return problems


def reported_payments(read: AttemptRead, extra: Sequence[RemotePayment]) -> dict[str, RemotePayment]:
    """The payments a read reports, by id: the order's embedded objects, then the payments list, each completed from
    its own read (the API's current answer). The API decides which payments exist and their status: a payment object
    from elsewhere (a signed webhook body) only fills in what the API's answer leaves out of a payment it names (the
    amounts, method and transactions; the status only where the API says none)."""
    merged = {answer.payment_id: answer for answer in (*read.remote.payments, *read.listed)}
    for answer in extra:
        named = merged.get(answer.payment_id)
        if named is not None and named.partial and not answer.partial:
            merged[answer.payment_id] = replace(answer, status=named.status or answer.status)
        elif named is not None and not named.status and answer.status:
            merged[answer.payment_id] = replace(named, status=answer.status, problems=())
    return merged


def apply_attempt_read(
    order: Order,
    checkout: Checkout,
    read: AttemptRead,
    merged: dict[str, RemotePayment],
    known: dict[str, Payment],
    close: tuple[uuid.UUID, str] | None,
) -> None:
    remote = read.remote
    money = remote.status in REMOTE_PAID or any(
        map_payment_status(answer.status) == PaymentStatus.COMPLETED for answer in merged.values()
    )
    problems = payment_mismatches(order, checkout, remote) if money else []
    fields = []
    if problems:
        flag_review(order, ReviewCode.AMOUNT_MISMATCH, "OrkestaPay reports the order paid but " + "; ".join(problems))
        if not checkout.disputed:
            checkout.disputed = True
            checkout.error = DISPUTED_PREFIX + "; ".join(problems)
            fields += ["disputed", "error"]
    held = _record_answers(order, checkout, remote, merged, known, vouches=not problems and _vouches(remote))
    replace_placeholders(order, checkout, known)
    on_attempt = [payment for payment in known.values() if payment.checkout_id == checkout.pk]
    if remote.status in REMOTE_PAID and not problems and not any(_is_money(p) for p in on_attempt):
        if _vouches(remote):
            stand_in = _payment_from_order(remote, merged, known)
            origin = PaymentOrigin.PLACEHOLDER
            fallback = record_payment(order, stand_in, checkout=checkout, known=known, origin=origin)
            on_attempt += [fallback] if fallback is not None and fallback not in on_attempt else []
        else:
            held = True
            flag_review(
                order,
                ReviewCode.MALFORMED_ANSWER,
                f"OrkestaPay reports order {remote.order_id[:64]} {remote.status[:40]}, but neither a payment nor the "
                "order says an amount we can use: nothing is counted until OrkestaPay says it",
            )
    status = checkout_status(checkout.status, remote_status_now(remote), on_attempt)
    if held and status == CheckoutStatus.COMPLETED and not any(_is_money(p) for p in on_attempt):
        status = CheckoutStatus.PENDING  # money OrkestaPay reports but nobody confirmed: no new attempt meanwhile
    if close is not None and close[0] == checkout.pk and status == CheckoutStatus.OPEN:
        status = close[1]
    if status != checkout.status:
        logger.info("Checkout %s: %s -> %s", checkout, checkout.status, status)
        checkout.status = status
        fields.append("status")
    if fields:
        checkout.save(update_fields=[*fields, "updated_at"])


def remote_status_now(remote: RemoteOrder) -> str:
    """OrkestaPay's status of the attempt's order as it stands now: ``EXPIRED`` for an order it still reports
    ``CREATED`` past the order's own ``expires_at`` (no public source shows an ``EXPIRED`` constant; the guide shows
    ``expires_at``, and OrkestaPay refuses ``expires_at`` in the past), so that a transfer that never arrived stops
    blocking a new checkout. Money that still lands on the attempt is recorded all the same."""
    if remote.status == "CREATED" and remote.expires_at is not None and remote.expires_at <= timezone.now():
        return "EXPIRED"
    return remote.status


def _vouches(remote: RemoteOrder) -> bool:
    """Whether OrkestaPay's order itself says it is paid and for how much (its total and currency), so that its
    total may stand for a payment that does not say its amount (the caller has compared them with ours)."""
    return remote.status in REMOTE_PAID and remote.total_amount is not None and bool(remote.currency)


def _record_answers(
    order: Order,
    checkout: Checkout,
    remote: RemoteOrder,
    merged: dict[str, RemotePayment],
    known: dict[str, Payment],
    *,
    vouches: bool,
) -> bool:
    """Record every payment the read reports. A payment OrkestaPay reports completed without a usable amount takes
    the order's total when the order vouches for it (paid, for our total and currency) and nothing else on the
    attempt is money (``order_total``); otherwise it is held in progress, never counted, and the order flagged.
    Returns whether a payment was held."""
    with_money = [
        pid
        for pid, answer in merged.items()
        if map_payment_status(answer.status) == PaymentStatus.COMPLETED and answer.amount is not None
    ]
    with_money += [p.orkestapay_payment_id for p in known.values() if p.checkout_id == checkout.pk and _is_money(p)]
    held = False
    for payment_id, answer in merged.items():
        row = known.get(payment_id)
        unconfirmed = map_payment_status(answer.status) == PaymentStatus.COMPLETED and answer.amount is None
        if not unconfirmed or (row is not None and row.order_id == order.pk and _is_money(row)):
            record_payment(order, answer, checkout=checkout, known=known)
        elif vouches and not with_money:
            from_order = replace(answer, amount=remote.total_amount, currency=remote.currency, partial=False)
            record_payment(order, from_order, checkout=checkout, known=known, origin=PaymentOrigin.ORDER_TOTAL)
            with_money.append(payment_id)
        else:
            held = True
            record_payment(order, answer, checkout=checkout, known=known, hold=True)
            flag_review(
                order,
                ReviewCode.MALFORMED_ANSWER,
                f"OrkestaPay reports payment {payment_id[:64]} completed without an amount we can use (nor an order "
                "total to take it from): it is not counted until OrkestaPay says its amount",
            )
    return held


def flag_unusable(order: Order, read: AttemptRead, merged: dict[str, RemotePayment]) -> None:
    """Flag the order ``malformed_answer`` when part of what OrkestaPay answered could not be used, naming each
    part, and keep the answer in ``last_error`` for the admin (the rest of the read was applied)."""
    problems = list(read.problems) + [
        f"payment {pid[:64]}: {problem}" for pid, answer in merged.items() for problem in answer.problems
    ]
    if not problems:
        return
    flag_review(
        order,
        ReviewCode.MALFORMED_ANSWER,
        f"OrkestaPay's answer about order {read.remote.order_id[:64]} could not be used in part: "
        + "; ".join(problems),
    )
    answer = json.dumps(_jsonable(read.remote.raw), sort_keys=True, default=str)[:1500]
    order.last_error = f"{timezone.now():%Y-%m-%d %H:%M:%S} {'; '.join(problems)[:1000]} | the order's answer: {answer}"


def _is_money(payment: Payment) -> bool:
    return payment.status == PaymentStatus.COMPLETED and payment.amount > 0


def _payment_from_order(
    remote: RemoteOrder, merged: dict[str, RemotePayment], known: dict[str, Payment]
) -> RemotePayment:
    """OrkestaPay says this attempt's order is paid (and it matches ours), but nothing it returned is a completed
    payment with an amount (a payments list that lags, or a shape we do not know). So the shop is never told
    "unpaid" when OrkestaPay says paid, record one completed payment from the order itself: under the id of a
    payment it reports completed, else under its ``payment_id`` unless that payment is known to have failed, else
    under ``"<order_id>:completed"``. The row is a placeholder (``Payment.origin``): the first API answer about its
    id corrects it, and once a real completed payment is listed on the attempt it is replaced (its refunds moved,
    the row deleted: it was never money of its own). A placeholder is never refunded."""
    completed = [pid for pid, answer in merged.items() if map_payment_status(answer.status) == PaymentStatus.COMPLETED]
    named = remote.raw.get("payment_id")
    closed = (PaymentStatus.FAILED, PaymentStatus.CANCELED)
    if completed:
        payment_id = completed[0]
    elif (
        isinstance(named, str)
        and named
        and (named not in merged or map_payment_status(merged[named].status) not in closed)
        and (named not in known or known[named].status not in closed)
    ):
        payment_id = named
    else:
        payment_id = f"{remote.order_id[:54]}:completed"  # fits the column (64)
    return RemotePayment(
        payment_id=payment_id,
        order_id=remote.order_id,
        status="COMPLETED",
        amount=remote.total_amount,
        refunded=None,
        currency=remote.currency,
        method_type=None,
        transactions=(),
        raw=remote.raw,
        partial=True,
    )
