"""What the API does beyond one request: whether a short burst of reads meets a rate limit (and whether its 429
says how long to wait, ``Retry-After``), and how ``GET /v1/orders/{id}/payments`` pages (the parameter the package
sends for the next page, ``?page=N``, counted from 0)."""

from __future__ import annotations

from collections import Counter
from collections.abc import Iterator
from typing import Any

from ..client import MAX_RETRY_AFTER, REFUND_SETTING
from .context import Exchange, ProbeContext, Question
from .report import Row

#: How many reads the burst sends, one after the other (never in parallel: the sandbox is shared).
BURST = 30

BURST_Q = Question(
    "limits.burst",
    f"Do {BURST} quick reads in a row meet a rate limit, and does the 429 say how long to wait (Retry-After)?",
    "nothing (asked to learn it); if a 429 comes, a Retry-After the client can read (seconds or an HTTP date): it "
    f"waits up to {MAX_RETRY_AFTER:.0f} s of it before retrying a read, and passes a longer one on",
    "A 429 without a readable Retry-After is retried after 0.25 s and 0.5 s, then given up: tell us the limit "
    "(attach the JSON report) so the fake can follow.",
)
PAGING_Q = Question(
    "limits.paging",
    "Does GET /v1/orders/{id}/payments page with ?page=N counted from 0 (as the package reads further pages)?",
    "?page=1 of a one-page list is past its end (no content); a list that ignores ?page is harmless while an "
    "order's payments fit one page",
    "Pages counted from 1: the package would read the first page twice and miss the last. Attach the JSON report "
    "to an issue.",
)


def ask_limits(ctx: ProbeContext) -> Iterator[Row]:
    """``limits.burst`` and ``limits.paging`` (the second needs the completed return's payment)."""
    yield _burst_row(ctx)
    paid = ctx.memo.get("paid")
    if not paid:
        yield PAGING_Q.skip("needs the payment of the completed return (--return completed)")
        return
    yield _paging_row(ctx, paid["order_id"])


def _burst_row(ctx: ProbeContext) -> Row:
    answers = [ctx.call("GET", f"/v1/merchants/settings?id={REFUND_SETTING}") for _ in range(BURST)]
    statuses = Counter(str(answer.status) for answer in answers)
    limited = [answer for answer in answers if answer.status == 429]
    evidence: dict[str, Any] = {"statuses": dict(statuses)}
    if not limited:
        observed = f"no 429 in {BURST} reads ({', '.join(f'{n} x HTTP {s}' for s, n in statuses.items())})"
        return BURST_Q.answer(observed, matches=None, evidence=evidence)
    first = limited[0]
    evidence.update(first_429_after=answers.index(first), retry_after=first.retry_after, body=first.body)
    if first.retry_after is None:
        observed = f"429 after {answers.index(first)} reads, without a readable Retry-After"
        return BURST_Q.answer(observed, matches=None, evidence=evidence)
    observed = f"429 after {answers.index(first)} reads, Retry-After {first.retry_after:.0f} s"
    return BURST_Q.answer(observed, matches=True, evidence=evidence)


def _content(answer: Exchange) -> list[Any] | None:
    content = answer.body.get("content") if answer.ok else None
    return content if isinstance(content, list) else None


def _paging_row(ctx: ProbeContext, order_id: str) -> Row:
    base = f"/v1/orders/{order_id}/payments"
    first = ctx.call("GET", base)
    listed = _content(first)
    if not listed:
        return PAGING_Q.error(f"the first page lists nothing ({first.describe()})", first.evidence())
    page_fields = sorted(key for key in first.body if key != "content")
    second = ctx.call("GET", f"{base}?page=1")
    evidence: dict[str, Any] = {"page_fields": page_fields, "page_1": _summary(second)}
    if not second.ok:
        return PAGING_Q.answer(f"?page=1: {second.describe()}", matches=False, evidence=evidence)
    if not _content(second):
        return PAGING_Q.answer("?page=1 is past the end: counted from 0", matches=True, evidence=evidence)
    third = ctx.call("GET", f"{base}?page=2")
    evidence["page_2"] = _summary(third)
    if third.ok and not _content(third):
        return PAGING_Q.answer("?page=1 answers the first page again: counted from 1", matches=False, evidence=evidence)
    observed = "?page is ignored: every page answers the same list (harmless while an order's payments fit one page)"
    return PAGING_Q.answer(observed, matches=None, evidence=evidence)


def _summary(answer: Exchange) -> dict[str, Any]:
    content = _content(answer)
    # "page_number", not "number": the report removes anything under "number" (a card number)
    return {"status": answer.status, "items": None if content is None else len(content), "page_number": _number(answer)}


def _number(answer: Exchange) -> Any:
    return answer.body.get("number") if answer.ok else None
