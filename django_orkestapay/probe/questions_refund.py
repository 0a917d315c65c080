"""Refunds of the sandbox payment the return question produced (only with ``--refund``): the merchant setting (and,
when the portal has it off, what a refund is answered), a partial refund, the payment read back, the same request
again under its ``Idempotency-Key``, the same key with another body, the rest, and one cent too many."""

from __future__ import annotations

import uuid
from collections.abc import Iterator
from decimal import Decimal
from typing import Any

from ..client import REFUND_SETTING
from ..exceptions import OrkestaPayError
from .context import ProbeContext, Question, number
from .report import Row

CENT = Decimal("0.01")

SETTING_Q = Question(
    "refund.setting",
    "Is AVAILABLE_REFUND_BY_ECOMMERCE on (GET /v1/merchants/settings)?",
    "true (refunds through the API need it)",
    "Turn on refunds from e-commerce in the OrkestaPay portal; until then every refund is refused.",
)
PARTIAL_Q = Question(
    "refund.partial",
    "Is a partial refund (half the payment) done, and what status does the order get?",
    "status SUCCESS; the order becomes PARTIALLY_REFUNDED",
    "Attach the JSON report: the package marks a refund done only on SUCCESS, and maps PARTIALLY_REFUNDED.",
)
REPLAY_Q = Question(
    "refund.replay",
    "Does the same refund request under the same Idempotency-Key answer the first refund again?",
    "the same transaction again, nothing refunded twice (TRUST_IDEMPOTENCY_KEYS may then be turned on)",
    "Keep TRUST_IDEMPOTENCY_KEYS off (the default): a refund whose answer was lost is then never sent again, only "
    "left for a person; check the payment's refunds in the portal and attach the JSON report to an issue.",
)
REST_Q = Question(
    "refund.rest",
    "Is the rest refunded, and what status does the order get?",
    "status SUCCESS; the order becomes REFUNDED",
    PARTIAL_Q.advice,
)
SETTING_OFF_Q = Question(
    "refund.setting_off",
    f"What does a refund get while the portal has refunds turned off ({REFUND_SETTING} false)?",
    "refused with a 4xx and a message (the package does not send it: it refuses first, as OrkestaPay's WordPress "
    "plugin does)",
    "OrkestaPay refunded with the setting off: the package's refusal is stricter than needed, which is harmless. "
    "Tell us (attach the JSON report).",
)
READ_BACK_Q = Question(
    "refund.read_back",
    "After the partial refund, does GET /v1/payments/{id} show it (amount.refunded, a REFUND transaction)?",
    "amount.refunded is what was refunded and a REFUND transaction lists it (a refund whose answer was lost is "
    "settled from these)",
    "Without them a refund whose answer was lost is left for a person (resent within IDEMPOTENCY_KEY_LIFETIME only "
    "with TRUST_IDEMPOTENCY_KEYS): nothing is refunded twice. Tell us what the payment shows (attach the JSON report).",
)
OTHER_BODY_Q = Question(
    "refund.other_body",
    "Is the partial refund's Idempotency-Key with another amount refused?",
    "refused with a 4xx (the fake answers 409); the package never sends one key with two bodies",
    "Harmless: each refund of the package has its own key. Tell us so the fake can follow.",
)
OVER_Q = Question(
    "refund.over",
    "Is one cent more than what is left refused?",
    "refused with a 4xx and a message",
    "Harmless: the package never asks for more than is left. Tell us so the fake can follow.",
)


def _refund(ctx: ProbeContext, payment_id: str, amount: Decimal, key: str) -> tuple[dict[str, Any] | None, str]:
    """One refund through the client's own ``refund_payment``: its transaction, or what went wrong."""
    try:
        result = ctx.client.refund_payment(
            payment_id, amount=amount, description="django-orkestapay probe", idempotency_key=key
        )
    except OrkestaPayError as exc:
        return None, f"refused: HTTP {exc.status_code} ({exc.message})" if exc.status_code else str(exc)
    return result.raw, ""


def _order_status(ctx: ProbeContext, order_id: str) -> str:
    answer = ctx.call("GET", f"/v1/orders/{order_id}")
    status = str(answer.body.get("status", "")).upper() if answer.ok else f"unread ({answer.describe()})"
    ctx.note_status("order", status if answer.ok else None)
    return status


def _transaction(raw: dict[str, Any]) -> dict[str, Any]:
    return {key: raw.get(key) for key in ("transaction_id", "type", "status", "amount") if key in raw}


def ask_refunds(ctx: ProbeContext) -> Iterator[Row]:
    """The refund rows; skipped when the return question produced no paid payment."""
    paid = ctx.memo.get("paid")
    rows = (SETTING_Q, SETTING_OFF_Q, PARTIAL_Q, READ_BACK_Q, REPLAY_Q, OTHER_BODY_Q, REST_Q, OVER_Q)
    if not paid:
        for question in rows:
            yield question.skip("needs the payment of the completed return (--return completed)")
        return
    setting = ctx.call("GET", f"/v1/merchants/settings?id={REFUND_SETTING}")
    settings = setting.body.get("custom_settings") if setting.ok else None
    enabled = settings.get(REFUND_SETTING) if isinstance(settings, dict) else None
    yield SETTING_Q.answer(
        f"{enabled!r}" if setting.ok else setting.describe(), matches=enabled is True, evidence=setting.evidence()
    )
    payment_id, order_id, total = paid["payment_id"], paid["order_id"], paid["total"]
    half = max((total / 2).quantize(CENT), CENT)
    if enabled is False:
        refund, problem = _refund(ctx, payment_id, half, uuid.uuid4().hex)
        observed = problem if refund is None else f"accepted: {refund.get('status')}"
        yield SETTING_OFF_Q.answer(observed, matches=problem.startswith("refused: HTTP 4"))
        for question in rows[2:]:
            yield question.skip("refunds are turned off in the portal")
        return
    yield SETTING_OFF_Q.skip(
        "refunds are on: to ask, turn them off in the portal and run --only return,refund --refund"
    )
    yield from _refunds(ctx, payment_id, order_id, total, half)


def _refunds(ctx: ProbeContext, payment_id: str, order_id: str, total: Decimal, half: Decimal) -> Iterator[Row]:
    key = uuid.uuid4().hex
    first, problem = _refund(ctx, payment_id, half, key)
    if first is None:
        yield PARTIAL_Q.answer(problem, matches=False)
        for question in (READ_BACK_Q, REPLAY_Q, OTHER_BODY_Q, REST_Q, OVER_Q):
            yield question.skip("the partial refund was not done")
        return
    status = _order_status(ctx, order_id)
    observed = f"{first.get('status')}; order {status}"
    matches = first.get("status") == "SUCCESS" and status == "PARTIALLY_REFUNDED"
    yield PARTIAL_Q.answer(observed, matches=matches, evidence={"transaction": _transaction(first)})
    if first.get("status") == "SUCCESS":
        yield _read_back_row(ctx, payment_id, half)
    else:
        yield READ_BACK_Q.skip("the partial refund did not succeed")

    again, problem = _refund(ctx, payment_id, half, key)
    if again is None:
        yield REPLAY_Q.answer(problem, matches=False)
    else:
        same = again.get("transaction_id") == first.get("transaction_id")
        observed = "the same transaction" if same else "a new transaction: refunded twice?"
        yield REPLAY_Q.answer(observed, matches=same, evidence={"transaction": _transaction(again)})

    refunded = half
    other, problem = _refund(ctx, payment_id, CENT, key)
    if other is None:
        yield OTHER_BODY_Q.answer(problem, matches=problem.startswith("refused: HTTP 4"))
    else:
        new = other.get("transaction_id") not in (first.get("transaction_id"), None)
        refunded += CENT if new and other.get("status") == "SUCCESS" else Decimal(0)
        observed = f"accepted: {'a new transaction' if new else 'the first transaction again'} ({other.get('status')})"
        yield OTHER_BODY_Q.answer(observed, matches=False, evidence={"transaction": _transaction(other)})

    rest, problem = _refund(ctx, payment_id, total - refunded, uuid.uuid4().hex)
    if rest is None:
        yield REST_Q.answer(problem, matches=False)
    else:
        status = _order_status(ctx, order_id)
        matches = rest.get("status") == "SUCCESS" and status == "REFUNDED"
        observed = f"{rest.get('status')}; order {status}"
        yield REST_Q.answer(observed, matches=matches, evidence={"transaction": _transaction(rest)})

    over, problem = _refund(ctx, payment_id, CENT, uuid.uuid4().hex)
    if over is None:
        yield OVER_Q.answer(problem, matches=problem.startswith("refused: HTTP 4"))
    else:
        yield OVER_Q.answer(f"accepted: {over.get('status')}", matches=over.get("status") != "SUCCESS")


def _read_back_row(ctx: ProbeContext, payment_id: str, refunded: Decimal) -> Row:
    answer = ctx.call("GET", f"/v1/payments/{payment_id}")
    if not answer.ok:
        return READ_BACK_Q.answer(answer.describe(), matches=False, evidence=answer.evidence())
    amount = answer.body.get("amount")
    shown = number(amount.get("refunded")) if isinstance(amount, dict) else None
    transactions = answer.body.get("transactions")
    kinds = [t.get("type") for t in transactions if isinstance(t, dict)] if isinstance(transactions, list) else []
    listed = any(str(kind).upper() == "REFUND" for kind in kinds)
    observed = f"amount.refunded {shown if shown is not None else 'absent'}; transactions {kinds or 'none'}"
    evidence = {"amount_fields": sorted(amount) if isinstance(amount, dict) else None, "transactions": kinds}
    return READ_BACK_Q.answer(observed, matches=shown == refunded and listed, evidence=evidence)
