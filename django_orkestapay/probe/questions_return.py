"""The return: a person pays (or cancels) on OrkestaPay's hosted page in their own browser, and the probe records
exactly which query parameters came back to the completed or canceled URL, then reads the order and the payment."""

from __future__ import annotations

import re
from collections.abc import Iterator
from contextlib import contextmanager
from decimal import Decimal
from typing import Any
from urllib.parse import urlencode

from ..signing import RETURN_PARAM
from .assumptions import CANCELED_RETURN_PARAMS, COMPLETED_RETURN_PARAMS, RETURN_VALUE, guide_checkout_body
from .context import ProbeContext, Question, number
from .listener import Arrival, ReturnListener
from .questions_checkout import create, read
from .report import Row

ACTIONS = {"completed": "pay", "canceled": "cancel"}


def questions(side: str) -> dict[str, Question]:
    """The questions about one side's return."""
    expected = COMPLETED_RETURN_PARAMS if side == "completed" else CANCELED_RETURN_PARAMS
    prefix = f"return.{side}"
    return {
        "checkout": Question(
            f"{prefix}.checkout",
            f"Is a checkout whose return URLs point at this probe accepted (to try the {side} return)?",
            "accepted",
            "OrkestaPay refuses these return URLs (perhaps plain http or loopback): run the probe again with "
            "--return-base-url https://<a tunnel to the --listen port>.",
        ),
        "arrived": Question(
            f"{prefix}.arrived",
            f"Did the browser come back to the {side} URL after a person chose to {ACTIONS[side]}?",
            f"yes, to the {side} URL",
            "If you did finish on OrkestaPay's page, it did not send the browser to the URL this checkout gave "
            "(attach the JSON report); if not, run again and finish within --wait seconds.",
        ),
        "query_kept": Question(
            f"{prefix}.query_kept",
            f"Does the shop's own query parameter reach the {side} URL unchanged?",
            f"{RETURN_PARAM}=<signed value> arrives exactly as sent (the package's return view reads only it)",
            "Serious: the package's return pages would answer 400 and change nothing; payments would still arrive "
            "by webhook and orkestapay_sync. Attach the JSON report to an issue at once.",
        ),
        "params": Question(
            f"{prefix}.params",
            f"Which query parameters does OrkestaPay add to the {side} URL?",
            f"{' and '.join(expected)} (others allowed)",
            f"Harmless: the package never trusts these (it asks the API). Tell us so the fake's "
            f"return_params_{side} can follow.",
        ),
        "order": Question(
            f"{prefix}.order",
            f"What does GET /v1/orders/{{id}} say after the {side} return?",
            "status COMPLETED, with the merchant_order_id, currency and total_amount sent"
            if side == "completed"
            else "status CANCELED (the package treats CREATED as pending, which works too)",
            "Another status at return time means the buyer sees the 'confirming your payment' page until a webhook "
            "or orkestapay_sync settles it; different values get the order flagged for review. Attach the JSON "
            "report."
            if side == "completed"
            else "Harmless: the buyer sees the cancel page either way. Tell us so the fake's "
            "cancel_marks_order_canceled can follow.",
        ),
    }


PAYMENT_Q = Question(
    "return.completed.payment",
    "Does the paid order list its payment, does GET /v1/payments/{id} answer it, and does payment_id in the URL "
    "name it?",
    "GET /v1/orders/{id}/payments lists a COMPLETED payment (in content[]), GET /v1/payments/{id} answers it "
    "COMPLETED, and the URL's payment_id is its id",
    "Refunds and the payment ledger use this payment id: attach the JSON report to an issue.",
)


def ask_returns(ctx: ProbeContext) -> Iterator[Row]:
    """For each side in ``config.returns``: a checkout, a person in a browser, the arrival, the order, the payment."""
    with listening(ctx) as listener:
        for side in ("completed", "canceled"):
            if side in ctx.config.returns:
                yield from _one_side(ctx, listener, side)
            else:
                yield questions(side)["arrived"].skip(f"--return does not name {side}")


@contextmanager
def listening(ctx: ProbeContext) -> Iterator[ReturnListener]:
    """The run's listener (the runner starts one for the whole run), or one of this group's own."""
    if ctx.listener is not None:
        yield ctx.listener
        return
    config = ctx.config
    with ReturnListener(
        ctx.run_id, host=config.listen_host, port=config.listen_port, public_base_url=config.return_base_url
    ) as listener:
        yield listener


def _one_side(ctx: ProbeContext, listener: ReturnListener, side: str) -> Iterator[Row]:
    asked = questions(side)
    own_query = urlencode({RETURN_PARAM: RETURN_VALUE})
    body = guide_checkout_body(
        ctx.merchant_order_id(f"return-{side}"),
        ctx.email,
        completed_url=f"{listener.url('completed', ACTIONS[side])}?{own_query}",
        canceled_url=f"{listener.url('canceled', ACTIONS[side])}?{own_query}",
    )
    answer = create(ctx, body)
    checkout, problem = read(answer)
    if checkout is None:
        yield asked["checkout"].answer(problem, matches=False, evidence=answer.evidence())
        return
    yield asked["checkout"].answer(f"accepted: {checkout.checkout_id}", matches=True)
    ctx.present(side, checkout)
    arrival = listener.next_arrival(ctx.config.return_timeout, flow=ACTIONS[side])
    if arrival is None:
        yield asked["arrived"].error(f"nobody came back within {ctx.config.return_timeout:.0f} s")
        return
    names = arrival.names()
    if arrival.side != side:
        observed = f"came back to the {arrival.side} URL instead, with {', '.join(names) or 'no parameters'}"
        yield asked["arrived"].error(observed, {"side": arrival.side, "names": names})
        return
    yield asked["arrived"].answer(f"yes, with {', '.join(names) or 'no parameters'}", matches=True)
    yield _query_row(asked["query_kept"], arrival)
    yield _params_row(asked["params"], arrival, checkout.order_id, side)
    yield _order_row(ctx, asked["order"], checkout.order_id, body["order"], side)
    if side == "completed":
        yield _payment_row(ctx, checkout.order_id, arrival, body["order"])


def _query_row(question: Question, arrival: Arrival) -> Row:
    values = [value for name, value in arrival.params if name == RETURN_PARAM]
    kept = values == [RETURN_VALUE]
    if kept:
        observed = "arrived unchanged"
    elif not values:
        observed = "missing: the shop's own query string did not come back"
    else:
        observed = f"changed: {len(values)} value(s) that differ from the one sent"
    return question.answer(observed, matches=kept, evidence={"raw_query_length": len(arrival.raw_query)})


def _params_row(question: Question, arrival: Arrival, order_id: str, side: str) -> Row:
    added = [name for name in arrival.names() if name != RETURN_PARAM]
    expected = COMPLETED_RETURN_PARAMS if side == "completed" else CANCELED_RETURN_PARAMS
    named = arrival.first("order_id") or arrival.first("orderId")
    evidence = {
        "names": added,
        "value_shapes": {name: value_shape(value) for name, value in arrival.params if name != RETURN_PARAM},
        "order_id_names_this_order": None if named is None else named == order_id,
    }
    observed = ", ".join(added) or "none"
    if named is not None and named != order_id:
        observed += " (but its order id is not this checkout's order)"
    matches = set(expected) <= set(added) and (named is None or named == order_id)
    return question.answer(observed, matches=matches, evidence=evidence)


def value_shape(value: str) -> str:
    """What a parameter's value looks like, without the value: ``ord_<32 hex>``, ``<13 digits>``, ``COMPLETED``."""
    if value.isdigit():
        return f"<{len(value)} digits>"
    shape = re.sub(r"[0-9a-f]{8,}", lambda run: f"<{len(run.group())} hex>", value)
    if shape != value and len(shape) <= 40:
        return shape
    if len(value) <= 20 and value.replace("_", "").isalpha():
        return value  # a word such as a status
    return f"<{len(value)} chars>"


def _order_row(ctx: ProbeContext, question: Question, order_id: str, sent: dict[str, Any], side: str) -> Row:
    answer = ctx.call("GET", f"/v1/orders/{order_id}")
    if not answer.ok:
        return question.error(answer.describe(), answer.evidence())
    status = str(answer.body.get("status", "")).upper()
    ctx.note_status("order", status)
    different = [
        name
        for name in ("merchant_order_id", "currency", "total_amount")
        if str(answer.body.get(name)) != str(sent[name]) and not _same_amount(answer.body.get(name), sent[name])
    ]
    observed = f"status {status or 'missing'}" + (f"; differs: {', '.join(different)}" if different else "")
    wanted = "COMPLETED" if side == "completed" else "CANCELED"
    evidence = {"status": status, "fields": sorted(answer.body), "differs": different}
    return question.answer(observed, matches=status == wanted and not different, evidence=evidence)


def _same_amount(theirs: Any, ours: Any) -> bool:
    amount = number(theirs)
    return amount is not None and amount == number(ours)


def _payment_row(ctx: ProbeContext, order_id: str, arrival: Arrival, sent: dict[str, Any]) -> Row:
    listing = ctx.call("GET", f"/v1/orders/{order_id}/payments")
    content = listing.body.get("content") if listing.ok else None
    if not isinstance(content, list):
        observed = f"the list: {listing.describe()}, no content[]"
        return PAYMENT_Q.answer(observed, matches=False, evidence=listing.evidence())
    for item in content:
        if isinstance(item, dict):
            ctx.note_status("payment", item.get("status"))
    completed = [p for p in content if isinstance(p, dict) and str(p.get("status")).upper() == "COMPLETED"]
    if not completed:
        statuses = [p.get("status") for p in content if isinstance(p, dict)]
        return PAYMENT_Q.answer(f"no COMPLETED payment listed ({statuses})", matches=False)
    payment_id = str(completed[-1].get("payment_id"))
    payment = ctx.call("GET", f"/v1/payments/{payment_id}")
    if not payment.ok:
        observed = f"GET /v1/payments/{{id}}: {payment.describe()}"
        return PAYMENT_Q.answer(observed, matches=False, evidence=payment.evidence())
    ctx.note_status("payment", payment.body.get("status"))
    in_url = arrival.first("payment_id") or arrival.first("paymentId")
    ctx.memo["paid"] = {"order_id": order_id, "payment_id": payment_id, "total": Decimal(str(sent["total_amount"]))}
    matches = str(payment.body.get("status")).upper() == "COMPLETED" and in_url in (None, payment_id)
    observed = f"{len(content)} listed, status {payment.body.get('status')}; the URL's payment_id " + (
        "is absent" if in_url is None else "names it" if in_url == payment_id else "names another payment"
    )
    return PAYMENT_Q.answer(observed, matches=matches, evidence=payment_shape(payment.body))


def payment_shape(payment: dict[str, Any]) -> dict[str, Any]:
    """The payment's shape without its values (card details are buyer data)."""
    amount = payment.get("amount")
    source = payment.get("payment_source")
    transactions = payment.get("transactions")
    return {
        "fields": sorted(payment),
        "amount": sorted(amount) if isinstance(amount, dict) else None,
        "payment_source_type": source.get("type") if isinstance(source, dict) else None,
        "transactions": [
            {"type": t.get("type"), "status": t.get("status")} for t in transactions if isinstance(t, dict)
        ]
        if isinstance(transactions, list)
        else None,
    }
