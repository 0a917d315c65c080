"""Webhook deliveries, once the view has verified their signature: parsing the envelope, storing each delivery as
an :class:`~django_orkestapay.models.Event` (rejected ones too), processing it once by re-reading the attempt from
the API (the signed payment object in the body is recorded too) through the same code path as returns and sync,
and reprocessing failed events. The HTTP side is :mod:`django_orkestapay.webhooks`."""

from __future__ import annotations

import json
import logging
import uuid
from collections.abc import Iterable, Mapping
from contextlib import nullcontext
from dataclasses import dataclass
from typing import Any

from django.db import IntegrityError, transaction
from django.db.models import F
from django.utils import timezone

from ..client import RemotePayment, parse_remote_payment
from ..models import Checkout, Event, EventStatus
from .apply import apply_reads
from .batch import BatchSummary
from .locking import take_write_lock
from .rejections import record_rejection
from .sync import read_attempt

# One logger for the whole service layer, named as before the split, so a shop's logging configuration and its
# log filters keep working.
logger = logging.getLogger("django_orkestapay.services")

#: Event types that make us re-read the order from the API. Anything else is stored and ignored (answered 2xx).
HANDLED_EVENT_TYPES = frozenset(
    {
        "payment.purchase",
        "payment.capture",
        "payment.authorize",
        "payment.cancel",
        "payment.refund",
        "payment.update",
        "order.update",
    }
)

#: Request headers kept on a stored event (everything else, cookies and credentials included, is dropped).
KEPT_WEBHOOK_HEADERS = (
    "svix-id",
    "svix-timestamp",
    "svix-signature",
    "webhook-id",
    "webhook-timestamp",
    "webhook-signature",
    "content-type",
    "content-length",
    "user-agent",
)

MAX_STORED_BODY = 64 * 1024
#: An event in one of these is settled: nothing processes it again.
_SETTLED = (EventStatus.PROCESSED, EventStatus.IGNORED)


@dataclass(frozen=True)
class WebhookPayload:
    """What we read from a webhook body, tolerant of the envelope's several shapes."""

    event_type: str
    order_id: str | None
    merchant_order_id: str | None
    payment_id: str | None
    payment: RemotePayment | None = None


def _first_str(mapping: Mapping[str, Any], *keys: str) -> str | None:
    for key in keys:
        value = mapping.get(key)
        if isinstance(value, str) and value:
            return value[:255]
    return None


def parse_webhook_payload(payload: Any) -> WebhookPayload:
    """Read event type, order id, merchant order id and payment id from any known envelope version.

    The event name comes from ``type_event``, else ``event_type``, else ``eventType``; the payment from
    ``data.payment``, else ``data``. Raises ``ValueError`` for a body that is not a JSON object.
    """
    if not isinstance(payload, dict):
        raise ValueError("the webhook body is not a JSON object")
    event_type = _first_str(payload, "type_event", "event_type", "eventType") or ""
    data = payload.get("data")
    data = data if isinstance(data, dict) else {}
    payment = data.get("payment")
    payment = payment if isinstance(payment, dict) else data
    return WebhookPayload(
        event_type=event_type[:64],
        order_id=_first_str(payment, "order_id", "orderId"),
        merchant_order_id=_first_str(payment, "merchant_order_id", "merchantOrderId"),
        payment_id=_first_str(payment, "payment_id", "paymentId"),
        payment=_payment_object(payment),
    )


def _payment_object(data: dict[str, Any]) -> RemotePayment | None:
    """The body's payment object when it is a complete one (an id, a status and amounts); else ``None``. It is
    signed, so it is recorded in the ledger, before the API's own (fresher) answer."""
    if "amount" not in data:
        return None
    try:
        return parse_remote_payment(data)
    except ValueError:  # not a payment object we can read: the API re-read still decides
        return None


def kept_headers(headers: Mapping[str, str]) -> dict[str, str]:
    """The webhook headers worth keeping, truncated; never cookies or credentials."""
    lowered = {str(key).lower(): str(value) for key, value in headers.items()}
    # NUL characters are dropped: PostgreSQL cannot store them in text or jsonb.
    return {name: lowered[name][:1000].replace("\x00", "") for name in KEPT_WEBHOOK_HEADERS if name in lowered}


def reject_webhook(*, body: bytes, headers: Mapping[str, str], reason: str, verified: bool = False) -> Event:
    """Count a delivery we refused (bad signature, malformed body) and keep a bounded trace of it for the admin
    (:mod:`.rejections`: the newest ``REJECTED_WEBHOOKS_KEPT``, 2 KiB of body; the event is unsaved otherwise)."""
    return record_rejection(body=body, kept_headers=kept_headers(headers), reason=reason, verified=verified)


def find_checkout_for(parsed: WebhookPayload) -> Checkout | None:
    """The checkout an event is about: by OrkestaPay order id, else by the merchant reference we sent."""
    if parsed.order_id:
        checkout = (
            Checkout.objects.select_related("order")
            .filter(orkestapay_order_id=parsed.order_id)
            .order_by("-created_at")
            .first()
        )
        if checkout is not None:
            return checkout
    if parsed.merchant_order_id:
        return (
            Checkout.objects.select_related("order")
            .filter(merchant_reference=parsed.merchant_order_id)
            .exclude(orkestapay_order_id="")
            .order_by("-created_at")
            .first()
        )
    return None


def _refuse_json_constant(name: str) -> Any:
    """NaN and Infinity are not JSON (and PostgreSQL's jsonb refuses them)."""
    raise ValueError(f"JSON constant {name} is not allowed")


def _contains_nul(value: Any) -> bool:
    """Whether a parsed JSON value holds a NUL character in any key or string."""
    if isinstance(value, str):
        return "\x00" in value
    if isinstance(value, dict):
        return any(_contains_nul(key) or _contains_nul(item) for key, item in value.items())
    if isinstance(value, list):
        return any(_contains_nul(item) for item in value)
    return False


def store_webhook(*, message_id: str, body: bytes, headers: Mapping[str, str]) -> tuple[Event, str]:
    """Store a *verified* delivery durably (committed when this returns), without processing it. Returns the event
    and one of ``stored`` (new, or stored before and not processed yet: process it), ``duplicate`` (processed or
    ignored already) or ``rejected`` (malformed body, stored as rejected)."""
    try:
        payload = json.loads(body.decode("utf-8"), parse_constant=_refuse_json_constant)
        parsed = parse_webhook_payload(payload)
        if _contains_nul(payload):  # a "\u0000" escape: PostgreSQL's jsonb cannot store it
            raise ValueError("the body contains a NUL character")
    except (UnicodeDecodeError, ValueError, RecursionError) as exc:  # RecursionError: absurdly deep nesting
        return reject_webhook(body=body, headers=headers, reason=f"malformed body: {exc}", verified=True), "rejected"
    # Insert first (one statement for a new event); the unique message id catches a repeat or a race. In
    # autocommit (the endpoint's case) the INSERT commits by itself; inside a caller's transaction a savepoint keeps
    # a repeat's IntegrityError from breaking it.
    try:
        with transaction.atomic() if transaction.get_connection().in_atomic_block else nullcontext():
            event = Event.objects.create(
                message_id=message_id,
                claimed_message_id=message_id,
                verified=True,
                event_type=parsed.event_type,
                orkestapay_order_id=(parsed.order_id or "")[:64],  # the field's length
                raw_body=body[:MAX_STORED_BODY].decode("utf-8", "replace"),
                headers=kept_headers(headers),
                payload=payload,
            )
    except IntegrityError:  # delivered before (a retry, a duplicate), or being stored concurrently
        event = Event.objects.get(message_id=message_id)
        return event, "duplicate" if event.status in _SETTLED else "stored"
    return event, "stored"


def receive_webhook(*, message_id: str, body: bytes, headers: Mapping[str, str]) -> tuple[Event, str]:
    """Store a *verified* delivery and process it once, here (inline). Returns the event and one of
    ``processed``, ``duplicate``, ``ignored`` or ``rejected`` (malformed body). Raises when processing failed: the
    event is then ``FAILED`` and reprocessable, and the caller answers 5xx so OrkestaPay retries.
    """
    event, outcome = store_webhook(message_id=message_id, body=body, headers=headers)
    if outcome != "stored":
        return event, outcome
    return event, process_event(event)


def _settle(event: Event, status: str, *, error: str = "", order_id: uuid.UUID | None = None) -> bool:
    """Record one processing's outcome on ``event``, unless another processing settled it first (processed or
    ignored): one conditional ``UPDATE``, which in a transaction also holds the event's row, so a concurrent
    processing of the same event waits here until this one commits, then finds it settled. Returns whether this
    processing's outcome was recorded."""
    error = error[:2000]
    processed_at = timezone.now() if status in _SETTLED else None
    values: dict[str, Any] = {
        "status": status,
        "error": error,
        "attempts": F("attempts") + 1,
        "processed_at": processed_at,
        "event_type": event.event_type,
        "orkestapay_order_id": event.orkestapay_order_id,
    }
    if order_id is not None:
        values["order_id"] = order_id
    if not Event.objects.filter(pk=event.pk).exclude(status__in=_SETTLED).update(**values):
        return False
    event.status, event.error, event.processed_at = status, error, processed_at
    event.attempts += 1
    if order_id is not None:
        event.order_id = order_id
    return True


def process_event(event: Event) -> str:
    """Apply one stored event: re-read its attempt from the API (any attempt of ours, open or closed: late money
    lands) and apply it, marking the event processed in the same transaction. Returns ``processed``, ``ignored``
    or ``duplicate`` (another processing of the same event got there first: nothing is applied twice); raises
    (event left ``FAILED``) when the API or the processing failed."""
    parsed = parse_webhook_payload(event.payload)
    event.event_type = parsed.event_type
    event.orkestapay_order_id = (parsed.order_id or "")[:64]  # the field's length
    if parsed.event_type not in HANDLED_EVENT_TYPES:
        ignored = _settle(event, EventStatus.IGNORED, error=f"unhandled event type {parsed.event_type!r}")
        return "ignored" if ignored else "duplicate"
    checkout = find_checkout_for(parsed)
    if checkout is None:
        ignored = _settle(event, EventStatus.IGNORED, error="no order of ours matches this event")
        return "ignored" if ignored else "duplicate"
    try:
        read = read_attempt(checkout)
        with transaction.atomic():
            take_write_lock(checkout.order_id)  # first: SQLite's write lock (see services.locking)
            if not _settle(event, EventStatus.PROCESSED, order_id=checkout.order_id):
                return "duplicate"
            apply_reads(checkout.order_id, [read], extra=[parsed.payment] if parsed.payment else [])
    except Exception as exc:
        event.refresh_from_db(fields=["status", "attempts", "error", "processed_at", "order"])  # rolled back
        _settle(event, EventStatus.FAILED, error=f"{type(exc).__name__}: {exc}", order_id=checkout.order_id)
        logger.error("Webhook event %s failed: %s", event.message_id, exc)
        raise
    return "processed"


def reprocess_events(events: Iterable[Event]) -> BatchSummary:
    """Process failed (or never processed) events again."""
    summary = BatchSummary()
    for event in events:
        try:
            outcome = process_event(event)
        except Exception:  # noqa: BLE001 - recorded on the event by process_event
            summary.failed += 1
        else:
            summary.succeeded += 1
            summary.changed += int(outcome == "processed")
    return summary
