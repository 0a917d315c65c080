"""Webhooks (only with ``--webhooks``): what OrkestaPay delivers to the probe's listener during the run.

OrkestaPay must reach the listener: run the probe with ``--return-base-url`` (a public https URL that forwards to
``--listen``) and register the URL the probe prints as a webhook endpoint in OrkestaPay's portal, or send a sample
from the portal's Testing tab. :func:`prepare` (when the run starts) prints that URL and creates a checkout left to
expire; at the end, :func:`ask_webhooks` reads that order once its ``expires_at`` has passed and waits up to
``webhook_wait`` seconds for deliveries. It records, without values: the signature headers, where the event name
and the payment sit in the envelope, and which events each of this run's checkouts got (a payment and its refunds,
a buyer's cancel, a declined card, a payment left waiting, an expiry). Signatures are not checked (the probe does
not know the endpoint's secret).
"""

from __future__ import annotations

import logging
import time
from collections import Counter
from collections.abc import Iterator
from typing import Any

from .assumptions import EVENT_NAME_KEYS, HANDLED_EVENT_TYPES, SIGNATURE_HEADER_FAMILIES, guide_checkout_body
from .context import ProbeContext, Question
from .listener import Delivery
from .questions_checkout import create, read
from .questions_return import value_shape
from .report import Row

logger = logging.getLogger("django_orkestapay.probe")

#: The label of the checkout left to expire.
EXPIRING = "expiring"
#: This run's checkouts whose events are reported: label -> (the row's key suffix, what happened to it).
FLOWS = {
    "return-completed": ("paid", "a card payment (and, with --refund, its refunds)"),
    "return-canceled": ("canceled", "a buyer's cancel"),
    "declined": ("declined", "a declined card"),
    "pending": ("pending", "a SPEI or cash payment left waiting"),
    EXPIRING: ("expired", "an expiry"),
}

DELIVERED_Q = Question(
    "webhook.delivered",
    "Did OrkestaPay deliver webhooks to the probe's endpoint during the run?",
    "yes",
    "Register the URL the probe printed as a webhook endpoint in the portal (Developers > Webhooks), through a "
    "public https URL that forwards to --listen (--return-base-url), or send a sample from its Testing tab.",
)
HEADERS_Q = Question(
    "webhook.headers",
    "Which signature headers does each delivery carry?",
    "svix-id, svix-timestamp and svix-signature (or webhook-id, webhook-timestamp and webhook-signature): what the "
    "package verifies",
    "Serious: the package refuses every delivery without them (400), so payments settle only through "
    "orkestapay_sync. Attach the JSON report to an issue at once.",
)
ENVELOPE_Q = Question(
    "webhook.envelope",
    "Where do the event name and the payment sit in a delivery?",
    f"the name under {', '.join(EVENT_NAME_KEYS)} (what the package reads), the payment's order_id under "
    "data.payment or data",
    "Serious: the package stores such deliveries as unhandled and answers 200, so OrkestaPay never resends them "
    "and payments settle only through orkestapay_sync. Attach the JSON report to an issue at once.",
)
KNOWN_Q = Question(
    "webhook.known",
    "Are all event names delivered known to the package?",
    f"every one is among {', '.join(sorted(HANDLED_EVENT_TYPES))}",
    "An unknown event is stored and ignored (answered 200), and the order is not read again until "
    "orkestapay_sync: tell us what it means (attach the JSON report).",
)
EXPIRY_Q = Question(
    "expiry.order",
    "What is an order's status once its expires_at has passed and nobody paid?",
    "EXPIRED (or CANCELED): the package closes the attempt either way",
    "Harmless: the package's own expiry sweep closes the attempt at expires_at, and orkestapay_sync still reads "
    "the order within RECONCILE_WINDOW, so a late payment lands. Tell us so the fake can follow.",
)


def _events_question(label: str) -> Question:
    suffix, what = FLOWS[label]
    if label == "return-completed":
        return Question(
            f"webhook.events.{suffix}",
            f"Which events did {what} emit?",
            "an event the package handles (payment.purchase or payment.capture, payment.refund for refunds; "
            "order.update in the July 2024 envelope)",
            "The package re-reads the order on a handled event only: attach the JSON report to an issue.",
        )
    return Question(f"webhook.events.{suffix}", f"Which events did {what} emit?", "nothing (asked to learn it)")


def prepare(ctx: ProbeContext) -> None:
    """When the run starts: tell the person the URL to register, and create the checkout left to expire."""
    if ctx.listener is None:
        return
    ctx.announce("webhook", ctx.listener.webhook_url())
    lifetime = float(ctx.config.expiry_lifetime)
    expires_at_ms = int((time.time() + lifetime) * 1000)
    try:
        answer = create(ctx, guide_checkout_body(ctx.merchant_order_id(EXPIRING), ctx.email, expires_at=expires_at_ms))
    except Exception as exc:  # noqa: BLE001 - a failure here is reported by the expiry row, never the whole run
        ctx.memo[EXPIRING] = {"problem": type(exc).__name__}
        return
    checkout, problem = read(answer)
    ctx.memo[EXPIRING] = {"checkout": checkout, "problem": problem, "expired_at": time.monotonic() + lifetime}


def ask_webhooks(ctx: ProbeContext) -> Iterator[Row]:
    """``expiry.order``, then the webhook rows over every delivery of the run."""
    yield _expiry_row(ctx)
    listener = ctx.listener
    if listener is None:
        yield DELIVERED_Q.skip("no listener")
        return
    wait = float(ctx.config.webhook_wait)
    deliveries = listener.wait_for_deliveries(wait, quiet=min(5.0, wait / 4), since=time.monotonic())
    if not deliveries:
        yield DELIVERED_Q.error(f"nothing arrived within {wait:.0f} s at {listener.webhook_url()}")
        return
    names = [_name(delivery.body)[1] for delivery in deliveries]
    yield DELIVERED_Q.answer(f"{len(deliveries)} deliveries", matches=True, evidence={"count": len(deliveries)})
    yield _headers_row(deliveries)
    yield _envelope_row(deliveries)
    unknown = sorted({name for name in names if name and name not in HANDLED_EVENT_TYPES})
    counted = Counter(name or "<no name>" for name in names)
    observed = ", ".join(f"{name} x{n}" for name, n in sorted(counted.items())) + (
        f" (unknown: {', '.join(unknown)})" if unknown else ""
    )
    yield KNOWN_Q.answer(observed, matches=not unknown, evidence={"names": dict(counted), "unknown": unknown})
    yield from _event_rows(ctx, deliveries)


def _expiry_row(ctx: ProbeContext) -> Row:
    memo = ctx.memo.get(EXPIRING) or {}
    checkout = memo.get("checkout")
    if checkout is None:
        return EXPIRY_Q.error(f"the checkout left to expire was not created: {memo.get('problem') or 'not asked'}")
    time.sleep(max(0.0, memo["expired_at"] - time.monotonic()) + 1.0)
    answer = ctx.call("GET", f"/v1/orders/{checkout.order_id}")
    if not answer.ok:
        return EXPIRY_Q.error(answer.describe(), answer.evidence())
    status = str(answer.body.get("status") or "").upper()
    ctx.note_status("order", status)
    return EXPIRY_Q.answer(f"status {status or 'missing'}", matches=status in ("EXPIRED", "CANCELED", "CANCELLED"))


def _name(body: Any) -> tuple[str | None, str | None]:
    """Where the event name is (one of the package's keys, else another top-level key holding a dotted name) and
    the name; ``(None, None)`` when there is none."""
    if not isinstance(body, dict):
        return None, None
    for key in EVENT_NAME_KEYS:
        value = body.get(key)
        # the package takes ``type`` only when it names an event (``"type": "payment"`` in the 2024 envelope does not)
        if isinstance(value, str) and value and (key != "type" or "." in value):
            return key, value
    for key, value in body.items():
        if isinstance(value, str) and "." in value and " " not in value and len(value) <= 64:
            return key, value
    return None, None


def _payment(body: Any) -> tuple[str, dict[str, Any]]:
    """Where the payment (or the order) sits, as the package looks for it, and that object."""
    data = body.get("data") if isinstance(body, dict) else None
    if not isinstance(data, dict):
        return "nowhere (no data object)", {}
    if isinstance(data.get("payment"), dict):
        return "data.payment", data["payment"]
    return "data", data


def _headers_row(deliveries: list[Delivery]) -> Row:
    families = [
        next((family[0].split("-")[0] for family in SIGNATURE_HEADER_FAMILIES if all(d.header(h) for h in family)), "")
        for d in deliveries
    ]
    seen = sorted({name for d in deliveries for name, _ in d.headers if name.startswith(("svix-", "webhook-"))})
    values = {name: next(v for d in deliveries if (v := d.header(name)) is not None) for name in seen}
    evidence = {
        "signature_headers": seen,
        "families": sorted(set(families)),
        "shapes": {name: value_shape(value) for name, value in values.items() if not name.endswith("signature")},
        "other_headers": sorted({name for d in deliveries for name, _ in d.headers} - set(seen)),
    }
    missing = families.count("")
    observed = ", ".join(seen) or "no svix-* or webhook-* header"
    if missing:
        observed += f" ({missing} of {len(deliveries)} deliveries without a complete set)"
    return HEADERS_Q.answer(observed, matches=not missing, evidence=evidence)


def _envelope_row(deliveries: list[Delivery]) -> Row:
    shapes = []
    for delivery in deliveries:
        key, name = _name(delivery.body)
        where, payment = _payment(delivery.body)
        body = delivery.body if isinstance(delivery.body, dict) else {}
        shapes.append(
            {
                "keys": sorted(body),
                "name_key": key,
                "name": name,
                "payment_at": where,
                "payment_has_order_id": bool(payment.get("order_id") or payment.get("orderId")),
                "type": body.get("type") if isinstance(body.get("type"), str) else None,
                "version": body.get("version") if isinstance(body.get("version"), (int, str)) else None,
            }
        )
    read_by_us = [s["name_key"] in EVENT_NAME_KEYS and s["payment_has_order_id"] for s in shapes]
    places = sorted({f"name under {s['name_key']}, payment at {s['payment_at']}" for s in shapes})
    observed = "; ".join(places)
    if not all(read_by_us):
        observed += f" ({read_by_us.count(False)} of {len(shapes)} not readable by the package)"
    return ENVELOPE_Q.answer(observed, matches=all(read_by_us), evidence={"deliveries": shapes})


def _event_rows(ctx: ProbeContext, deliveries: list[Delivery]) -> Iterator[Row]:
    by_label: dict[str, list[str]] = {}
    for delivery in deliveries:
        _, payment = _payment(delivery.body)
        order_id = payment.get("order_id") or payment.get("orderId")
        label = ctx.label_for(order_id, payment.get("merchant_order_id") or payment.get("merchantOrderId"))
        if label is not None:
            by_label.setdefault(label, []).append(_name(delivery.body)[1] or "<no name>")
    ran = set(ctx.orders.values())
    for label in FLOWS:
        question = _events_question(label)
        if label not in ran:
            yield question.skip("this run had no such checkout")
            continue
        names = by_label.get(label, [])
        observed = ", ".join(names) or "none arrived"
        matches = any(name in HANDLED_EVENT_TYPES for name in names) if label == "return-completed" else None
        yield question.answer(observed, matches=matches, evidence={"events": names})
