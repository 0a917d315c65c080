"""A person in a browser, beyond paying and canceling (only with ``--pending``): a SPEI or cash payment left waiting
for the money (what the order and its payments say meanwhile), and a declined card (how its payment is recorded).

The probe cannot tell when the person is done on OrkestaPay's page, so it reads the order's payments every
:data:`POLL_SECONDS` until one is listed, the browser comes back to the checkout's own return URL, or ``--wait``
runs out.
"""

from __future__ import annotations

import time
from collections.abc import Callable, Iterator
from typing import Any
from urllib.parse import urlencode

from ..client import CheckoutResult
from ..signing import RETURN_PARAM
from .assumptions import RETURN_VALUE, guide_checkout_body
from .context import ProbeContext, Question
from .listener import ReturnListener
from .questions_checkout import create, read
from .questions_return import listening, payment_shape
from .report import Row

#: Seconds between two reads of the order's payments while a person is on OrkestaPay's page.
POLL_SECONDS = 3.0
#: Payment statuses after which nothing more happens to a payment (whatever else it is, it still waits).
FINAL_PAYMENT_STATUSES = frozenset(
    {"COMPLETED", "REJECTED", "FAILED", "DECLINED", "CANCELED", "CANCELLED", "REFUNDED", "PARTIALLY_REFUNDED"}
)

PENDING_Q = Question(
    "pending.order",
    "While a SPEI or cash payment waits for the money, can the package see it from the order?",
    "GET /v1/orders/{id}/payments lists it, not final (PAYMENT_ACTION_REQUIRED); the package lists an order's "
    "payments whatever the order's status, which this row records (CREATED while a transfer waits?)",
    "Serious: the package would not see this payment while it waits, so the attempt stays open, a second checkout "
    "may be offered and the buyer could pay twice. Attach the JSON report to an issue at once.",
)
PENDING_PAYMENT_Q = Question(
    "pending.payment",
    "What does a SPEI or cash payment look like while it waits (GET /v1/payments/{id})?",
    "nothing (asked to learn it): its status, payment_source.type and fields",
)
DECLINE_Q = Question(
    "decline.payment",
    "How are a declined card's payment and its order recorded?",
    "a REJECTED or FAILED payment, the order not COMPLETED (the package records the payment failed, and the order "
    "stays payable: the buyer may try again)",
    "A declined payment with another status counts as still in progress: the buyer is offered no new checkout "
    "until orkestapay_sync settles it. Attach the JSON report to an issue.",
)


def ask_pending(ctx: ProbeContext) -> Iterator[Row]:
    """``pending.order`` and ``pending.payment`` (a person starts a SPEI or cash payment and does not pay it), then
    ``decline.payment`` (a person has a card declined, then cancels)."""
    with listening(ctx) as listener:
        yield from _pending(ctx, listener)
        yield from _declined(ctx, listener)


def _start(ctx: ProbeContext, listener: ReturnListener, flow: str) -> tuple[CheckoutResult | None, str]:
    own_query = urlencode({RETURN_PARAM: RETURN_VALUE})
    body = guide_checkout_body(
        ctx.merchant_order_id(flow),
        ctx.email,
        completed_url=f"{listener.url('completed', flow)}?{own_query}",
        canceled_url=f"{listener.url('canceled', flow)}?{own_query}",
    )
    return read(create(ctx, body))


def _payments(ctx: ProbeContext, order_id: str) -> list[dict[str, Any]]:
    listing = ctx.call("GET", f"/v1/orders/{order_id}/payments")
    content = listing.body.get("content") if listing.ok else None
    payments = [item for item in content if isinstance(item, dict)] if isinstance(content, list) else []
    for payment in payments:
        ctx.note_status("payment", payment.get("status"))
    return payments


def _watch(
    ctx: ProbeContext,
    listener: ReturnListener,
    order_id: str,
    flow: str,
    done: Callable[[list[dict[str, Any]]], bool],
) -> list[dict[str, Any]]:
    """The order's payments once ``done`` says so, the browser came back (one more read), or the time is up."""
    deadline = time.monotonic() + ctx.config.return_timeout
    while True:
        payments = _payments(ctx, order_id)
        left = deadline - time.monotonic()
        if done(payments) or left <= 0:
            return payments
        if listener.next_arrival(min(POLL_SECONDS, left), flow=flow) is not None:
            return _payments(ctx, order_id)


def _status(payment: dict[str, Any]) -> str:
    return str(payment.get("status") or "").upper()


def _order(ctx: ProbeContext, order_id: str) -> dict[str, Any]:
    answer = ctx.call("GET", f"/v1/orders/{order_id}")
    if not answer.ok:
        return {}
    ctx.note_status("order", answer.body.get("status"))
    return dict(answer.body)


def _names_a_payment(order: dict[str, Any]) -> bool:
    return bool(order.get("payment_id") or order.get("payment_ids") or order.get("payments"))


def _attempt(
    ctx: ProbeContext, listener: ReturnListener, flow: str, question: Question
) -> tuple[list[dict[str, Any]], dict[str, Any], str, Row | None]:
    """A checkout shown to the person as ``flow``, watched until a payment is listed: its payments, the order, the
    order's status, and the error row when there is nothing to judge."""
    checkout, problem = _start(ctx, listener, flow)
    if checkout is None:
        return [], {}, "", question.error(f"the checkout was refused: {problem}")
    ctx.present(flow, checkout)
    payments = _watch(ctx, listener, checkout.order_id, flow, bool)
    order = _order(ctx, checkout.order_id)
    status = str(order.get("status") or "unread").upper()
    if not payments:
        timeout = ctx.config.return_timeout
        return [], order, status, question.error(f"no payment was listed within {timeout:.0f} s; order {status}")
    return payments, order, status, None


def _pending(ctx: ProbeContext, listener: ReturnListener) -> Iterator[Row]:
    payments, order, status, failed = _attempt(ctx, listener, "pending", PENDING_Q)
    if failed is not None:
        yield failed
        yield PENDING_PAYMENT_Q.skip("no payment")
        return
    waiting = [p for p in payments if _status(p) not in FINAL_PAYMENT_STATUSES]
    names = _names_a_payment(order)
    observed = (
        f"order {status}; payments {', '.join(_status(p) or '?' for p in payments)}; the order "
        f"{'names' if names else 'does not name'} its payment"
    )
    evidence = {"order_status": status, "order_fields": sorted(order), "payments": [_status(p) for p in payments]}
    if not waiting:
        yield PENDING_Q.error(f"{observed}: no payment is waiting (was it paid?)", evidence)
    else:
        # the package lists an order's payments whatever the order's status: a listed waiting payment is seen
        yield PENDING_Q.answer(observed, matches=True, evidence=evidence)
    yield _payment_row(ctx, (waiting or payments)[-1])


def _payment_row(ctx: ProbeContext, listed: dict[str, Any]) -> Row:
    payment_id = str(listed.get("payment_id") or "")
    answer = ctx.call("GET", f"/v1/payments/{payment_id}") if payment_id else None
    if answer is None or not answer.ok:
        observed = "the listed payment has no payment_id" if answer is None else answer.describe()
        return PENDING_PAYMENT_Q.answer(observed, matches=None, evidence=payment_shape(listed))
    ctx.note_status("payment", answer.body.get("status"))
    shape = payment_shape(answer.body)
    observed = f"status {answer.body.get('status')}, payment_source.type {shape['payment_source_type']}"
    return PENDING_PAYMENT_Q.answer(observed, matches=None, evidence=shape)


def _declined(ctx: ProbeContext, listener: ReturnListener) -> Iterator[Row]:
    payments, _, status, failed = _attempt(ctx, listener, "declined", DECLINE_Q)
    if failed is not None:
        yield failed
        return
    statuses = [_status(p) for p in payments]
    observed = f"payments {', '.join(s or '?' for s in statuses)}; order {status}"
    matches = any(s in ("REJECTED", "FAILED") for s in statuses) and status != "COMPLETED"
    yield DECLINE_Q.answer(observed, matches=matches, evidence={"payments": statuses, "order_status": status})
