"""The checkout questions: the guide's own sample request, its answer and what reads back, the default lifetime,
the package's own request shape, ``expires_at`` and the product id keys."""

from __future__ import annotations

import time
from collections.abc import Iterator
from decimal import Decimal
from typing import Any
from urllib.parse import urlsplit

from ..client import CheckoutResult, parse_checkout, parse_order
from .assumptions import (
    FAKE_CHECKOUT_LIFETIME,
    GUIDE_CHECKOUT_FIELDS,
    GUIDE_ORDER_FIELDS,
    GUIDE_PRODUCT_ID,
    TRUSTED_CHECKOUT_HOSTS,
    guide_checkout_body,
    package_checkout_body,
)
from .context import Exchange, ProbeContext, Question, number
from .report import Row

SAMPLE_Q = Question(
    "checkout.sample",
    "Is the sample request of OrkestaPay's checkout guide accepted, and can the client read the answer?",
    "accepted; the answer has checkout_id, an absolute checkout_redirect_url and order.order_id",
    "Without this nothing works: attach the JSON report to an issue.",
)
FIELDS_Q = Question(
    "checkout.fields",
    "Does the answer have the fields of the guide's sample answer?",
    "every field of the guide's answer (the client reads checkout_id, checkout_redirect_url, order.order_id, "
    "order.status and order.expires_at)",
    "Harmless unless checkout.sample is a mismatch too; tell us so the fake answers the same.",
)
HOST_Q = Question(
    "checkout.redirect_host",
    "Does checkout_redirect_url point at a host the package sends buyers to?",
    f"an https URL on {', '.join(TRUSTED_CHECKOUT_HOSTS)} (the default CHECKOUT_HOSTS)",
    "The pay view refuses this URL: add its host to ORKESTAPAY['CHECKOUT_HOSTS'] (keep the defaults in the list).",
)
READ_CHECKOUT_Q = Question(
    "checkout.read_back",
    "What does GET /v1/checkouts/{id} answer?",
    "HTTP 200 with the create answer's fields, readable by the client's get_checkout",
    "Harmless today: the package keeps the create answer and never reads a checkout back. Tell us the shape so the "
    "fake's checkout_read_shape can follow.",
)
READ_ORDER_Q = Question(
    "order.read_back",
    "Does GET /v1/orders/{id} read back the order as sent, with status CREATED?",
    "HTTP 200, readable by the client's get_order, status CREATED, the same merchant_order_id, currency and "
    "total_amount",
    "The package confirms every return and webhook with this read: unreadable or different values mean orders are "
    "flagged for review instead of paid. Attach the JSON report to an issue.",
)
LIFETIME_Q = Question(
    "checkout.default_lifetime",
    "How long does a checkout live when the request has no expires_at?",
    f"{FAKE_CHECKOUT_LIFETIME} s (the fake's default; OrkestaPay's was unknown)",
    "Harmless while CHECKOUT_LIFETIME is set (it is by default: the package sends expires_at). With CHECKOUT_LIFETIME "
    "None checkouts live as observed. Tell us so the fake's checkout_lifetime can follow.",
)
PACKAGE_SHAPE_Q = Question(
    "checkout.package_shape",
    "Is a request shaped as the package sends it accepted (product_id, description, discount, shipping, taxes "
    "folded into the prices and the subtotal, one product split over two lines, merchant_customer_id, expires_at)?",
    "accepted",
    "The package's own checkouts would be refused like this: attach the JSON report (the refused field says what "
    "to change).",
)
EXPIRES_Q = Question(
    "checkout.expires_at",
    "Is the expires_at the package sends kept?",
    "the answer's order.expires_at is the value sent (CHECKOUT_LIFETIME works)",
    "CHECKOUT_LIFETIME has no effect; the package reads expires_at from the answer, so nothing breaks. Tell us.",
)
PRODUCT_ID_Q = Question(
    "products.product_id",
    "Is products[].product_id (what the package sends) accepted and echoed?",
    "accepted, echoed as product_id",
    "The package's checkouts are refused: tell us at once (attach the JSON report); the guide's form is products[].id.",
)
LEGACY_ID_Q = Question(
    "products.id",
    "Is products[].id (the guide's form) accepted, and echoed as product_id?",
    "accepted, echoed as product_id (as in the guide's answer)",
    "Harmless: the package sends product_id. Tell us so the fake's product_id_fields can follow.",
)


def create(ctx: ProbeContext, body: dict[str, Any], headers: dict[str, str] | None = None) -> Exchange:
    """``POST /v1/checkouts`` with ``body``; notes the order status of an accepted one."""
    answer = ctx.call("POST", "/v1/checkouts", payload=body, headers=headers)
    if answer.ok and isinstance(answer.body.get("order"), dict):
        ctx.note_status("order", answer.body["order"].get("status"))
        ctx.remember_order(body.get("order", {}).get("merchant_order_id"), answer.body["order"].get("order_id"))
    return answer


def read(answer: Exchange) -> tuple[CheckoutResult | None, str]:
    """The client's reading of a checkout answer, or why it cannot read it."""
    if not answer.ok:
        return None, answer.describe()
    try:
        return parse_checkout(answer.body), ""
    except ValueError as exc:
        return None, f"the client cannot read it: {exc}"


def _order(answer: Exchange) -> dict[str, Any]:
    return _as_dict(answer.body.get("order")) if answer.ok else {}


def ask_checkout(ctx: ProbeContext) -> Iterator[Row]:
    """The guide's sample and what it tells: fields, host, read-backs, default lifetime, ``products[].id``."""
    sent_at = Decimal(int(time.time() * 1000))
    body = guide_checkout_body(ctx.merchant_order_id("sample"), ctx.email)
    answer = create(ctx, body)
    result, problem = read(answer)
    if result is None:
        yield SAMPLE_Q.answer(problem, matches=False, evidence=answer.evidence())
        for question in (FIELDS_Q, HOST_Q, READ_CHECKOUT_Q, READ_ORDER_Q, LIFETIME_Q, LEGACY_ID_Q):
            yield question.skip("the sample checkout was not created")
    else:
        ctx.memo["sample"] = result
        yield SAMPLE_Q.answer(f"accepted: {result.checkout_id}, order {result.order_id}", matches=True)
        yield _fields_row(answer.body)
        yield _host_row(ctx, result.redirect_url)
        yield _read_checkout_row(ctx, result)
        yield _read_order_row(ctx, result, body["order"])
        yield _lifetime_row(answer, sent_at)
        yield _product_echo_row(LEGACY_ID_Q, answer, GUIDE_PRODUCT_ID)
    yield from _package_rows(ctx)
    body = guide_checkout_body(ctx.merchant_order_id("product-id"), ctx.email, product_key="product_id")
    yield _product_echo_row(PRODUCT_ID_Q, create(ctx, body), GUIDE_PRODUCT_ID)


def _fields_row(answer: dict[str, Any]) -> Row:
    order = _as_dict(answer.get("order"))
    missing = [
        *sorted(GUIDE_CHECKOUT_FIELDS - set(answer)),
        *(f"order.{k}" for k in sorted(GUIDE_ORDER_FIELDS - set(order))),
    ]
    extra = [
        *sorted(set(answer) - GUIDE_CHECKOUT_FIELDS),
        *(f"order.{k}" for k in sorted(set(order) - GUIDE_ORDER_FIELDS)),
    ]
    evidence = {"fields": sorted(answer), "order_fields": sorted(order), "missing": missing, "extra": extra}
    return FIELDS_Q.answer(_difference(missing, extra), matches=not missing, evidence=evidence)


def _as_dict(value: Any) -> dict[str, Any]:
    return value if isinstance(value, dict) else {}


def _difference(missing: list[str], extra: list[str]) -> str:
    return f"missing: {', '.join(missing) or 'none'}; more: {', '.join(extra) or 'none'}"


def _host_row(ctx: ProbeContext, url: str) -> Row:
    parts = urlsplit(url)
    host = (parts.hostname or "").lower()
    trusted = any(host.endswith(suffix) or host == suffix.lstrip(".") for suffix in TRUSTED_CHECKOUT_HOSTS)
    own_host = host == (urlsplit(ctx.config.base_url).hostname or "").lower()  # the package trusts BASE_URL's host
    matches = (parts.scheme == "https" and trusted) or own_host
    return HOST_Q.answer(f"{parts.scheme}://{host}", matches=matches, evidence={"scheme": parts.scheme, "host": host})


def _read_checkout_row(ctx: ProbeContext, created: CheckoutResult) -> Row:
    answer = ctx.call("GET", f"/v1/checkouts/{created.checkout_id}")
    result, problem = read(answer)
    if not answer.ok:
        return READ_CHECKOUT_Q.answer(problem, matches=False, evidence=answer.evidence())
    missing = sorted(set(created.raw) - set(answer.body))
    extra = sorted(set(answer.body) - set(created.raw))
    readable = "readable" if result is not None else problem
    observed = f"HTTP {answer.status}, {readable}; {_difference(missing, extra)}"
    evidence = {"fields": sorted(answer.body), "missing": missing, "extra": extra}
    return READ_CHECKOUT_Q.answer(observed, matches=result is not None and not missing, evidence=evidence)


def _read_order_row(ctx: ProbeContext, created: CheckoutResult, sent: dict[str, Any]) -> Row:
    answer = ctx.call("GET", f"/v1/orders/{created.order_id}")
    if not answer.ok:
        return READ_ORDER_Q.answer(answer.describe(), matches=False, evidence=answer.evidence())
    ctx.note_status("order", answer.body.get("status"))
    try:
        order = parse_order(answer.body)
    except ValueError as exc:
        return READ_ORDER_Q.answer(f"the client cannot read it: {exc}", matches=False, evidence=answer.evidence())
    differences = [
        name
        for name, ours, theirs in (
            ("merchant_order_id", sent["merchant_order_id"], order.merchant_order_id),
            ("currency", sent["currency"], order.currency),
            ("total_amount", Decimal(sent["total_amount"]), order.total_amount),
        )
        if ours != theirs
    ]
    observed = f"status {order.status}; " + (f"differs: {', '.join(differences)}" if differences else "values as sent")
    evidence = {"fields": sorted(answer.body), "status": order.status, "differs": differences}
    return READ_ORDER_Q.answer(observed, matches=order.status == "CREATED" and not differences, evidence=evidence)


def _lifetime_row(answer: Exchange, sent_at: Decimal) -> Row:
    order = _order(answer)
    expires = number(order.get("expires_at"))
    placed = number(order.get("placed_at")) or number(answer.body.get("placed_at")) or sent_at
    if expires is None:
        return LIFETIME_Q.answer("the answer has no order.expires_at", matches=False)
    seconds = int((expires - placed) / 1000)
    evidence = {"expires_at_minus_placed_at_s": seconds}
    return LIFETIME_Q.answer(f"{seconds} s", matches=abs(seconds - FAKE_CHECKOUT_LIFETIME) <= 60, evidence=evidence)


def _product_echo_row(question: Question, answer: Exchange, product_id: str) -> Row:
    products = _order(answer).get("products")
    first = products[0] if isinstance(products, list) and products and isinstance(products[0], dict) else {}
    if not answer.ok:
        return question.answer(answer.describe(), matches=False, evidence=answer.evidence())
    echoed = {key: first.get(key) for key in ("product_id", "id") if key in first}
    observed = "accepted, echoed as " + (", ".join(f"{k}={v!r}" for k, v in echoed.items()) or "no product id")
    return question.answer(observed, matches=echoed.get("product_id") == product_id, evidence={"echo": sorted(first)})


def _package_rows(ctx: ProbeContext) -> Iterator[Row]:
    expires_at_ms = int(time.time() * 1000) + 15 * 60 * 1000
    body = package_checkout_body(ctx.merchant_order_id("package"), ctx.email, expires_at_ms=expires_at_ms)
    answer = create(ctx, body)
    result, problem = read(answer)
    if result is None:
        yield PACKAGE_SHAPE_Q.answer(problem, matches=False, evidence=answer.evidence())
        yield EXPIRES_Q.skip("the package-shaped checkout was not created")
        return
    yield PACKAGE_SHAPE_Q.answer(f"accepted: {result.checkout_id}", matches=True)
    kept = number(_order(answer).get("expires_at"))
    observed = "no order.expires_at in the answer" if kept is None else f"sent {expires_at_ms}, answered {kept}"
    matches = kept is not None and abs(kept - expires_at_ms) <= 1000
    yield EXPIRES_Q.answer(observed, matches=matches, evidence={"sent": expires_at_ms, "answered": kept})
