"""Webhook deliveries, once the view has verified their signature: parsing the envelope, storing each delivery as
an :class:`~django_orkestapay.models.Event` (rejected ones too), processing it once by re-reading the attempt from
the API (the signed payment object in the body fills in what the API leaves out) through the same code path as
returns and sync, and reprocessing failed events. Whatever its name, an event whose order, payment or reference is
one of ours makes us read that attempt: OrkestaPay's envelope changed several times and its current event-name key is
not publicly shown. A processing that fails on an answer we cannot use (or on our own bug) is acknowledged, kept
``failed`` and taken up again by the reprocess sweep with backoff; only an outage (OrkestaPay unreachable or 5xx, a
busy database) is answered 5xx for OrkestaPay to retry. The HTTP side is :mod:`django_orkestapay.webhooks`."""

from __future__ import annotations

import json
import logging
import uuid
from collections.abc import Iterable, Mapping
from contextlib import nullcontext, suppress
from datetime import datetime, timedelta
from typing import Any

from django.db import DatabaseError, IntegrityError, transaction
from django.db.models import F
from django.utils import timezone

from .. import __version__, conf
from ..client.evidence import DOCUMENTED_EVENT_TYPES
from ..exceptions import APIConnectionError, APIError, OrkestaPayError, is_unusable_answer
from ..models import Checkout, Event, EventStatus, Order, Payment
from .apply import apply_reads
from .attempts import AttemptRead
from .batch import BatchSummary
from .event_coverage import Covered, covered_by_read, payment_bodies, settle_covered, was_covered
from .locking import lock_order, lock_order_row, take_write_lock
from .refund_sending import settle_by_refund_event
from .rejections import record_rejection
from .sync import read_attempt, record_failure
from .webhook_payload import WebhookPayload as WebhookPayload
from .webhook_payload import parse_webhook_payload as parse_webhook_payload

# One logger for the whole service layer, named as before the split, so a shop's logging configuration and its
# log filters keep working.
logger = logging.getLogger("django_orkestapay.services")

#: The event types OrkestaPay documents (and the 2024 ones). Any event that names one of our orders is read, whatever
#: its type; the type is recorded, and says nothing to the processing.
HANDLED_EVENT_TYPES = DOCUMENTED_EVENT_TYPES

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
#: An event in one of these is settled: nothing processes it again (an ignored one may be examined again after an
#: upgrade: :func:`reopen_for_reexamination`).
_SETTLED = (EventStatus.PROCESSED, EventStatus.IGNORED)
#: The longest wait between two reprocessings of a failed event (the wait doubles from ``EVENT_REPROCESS_AFTER``).
MAX_REPROCESS_DELAY = timedelta(hours=6)
#: At most this many attempts are read for one event that names them only by our reference.
MAX_ATTEMPTS_PER_EVENT = 5


def kept_headers(headers: Mapping[str, str]) -> dict[str, str]:
    """The webhook headers worth keeping, truncated; never cookies or credentials."""
    lowered = {str(key).lower(): str(value) for key, value in headers.items()}
    # NUL characters are dropped: PostgreSQL cannot store them in text or jsonb.
    return {name: lowered[name][:1000].replace("\x00", "") for name in KEPT_WEBHOOK_HEADERS if name in lowered}


def reject_webhook(*, body: bytes, headers: Mapping[str, str], reason: str, verified: bool = False) -> Event:
    """Count a delivery we refused (bad signature, malformed body) and keep a bounded trace of it for the admin
    (:mod:`.rejections`: the newest ``REJECTED_WEBHOOKS_KEPT``, 2 KiB of body; the event is unsaved otherwise)."""
    return record_rejection(body=body, kept_headers=kept_headers(headers), reason=reason, verified=verified)


def find_checkouts_for(parsed: WebhookPayload) -> list[Checkout]:
    """The attempts an event is about: the one of its OrkestaPay order id, else the one holding its payment, else
    those we sent its merchant reference with (several, newest first, when references of old orders collide: each
    is read, and OrkestaPay's answer says which one the money is on). Empty when nothing of ours matches."""
    attempts = Checkout.objects.select_related("order").exclude(orkestapay_order_id="").order_by("-created_at")
    if parsed.order_id:
        by_order = attempts.filter(orkestapay_order_id=parsed.order_id).first()
        if by_order is not None:
            return [by_order]
    if parsed.payment_id:
        holder = Payment.objects.filter(orkestapay_payment_id=parsed.payment_id).values("checkout_id").first()
        by_payment = attempts.filter(pk=holder["checkout_id"]).first() if holder and holder["checkout_id"] else None
        if by_payment is not None:
            return [by_payment]
    if parsed.merchant_order_id:
        return list(attempts.filter(merchant_reference=parsed.merchant_order_id)[:MAX_ATTEMPTS_PER_EVENT])
    return []


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
    ``processed``, ``duplicate``, ``ignored``, ``deferred`` (the processing failed, but not for a reason OrkestaPay's
    retry can fix: see :func:`process_event`) or ``rejected`` (malformed body). Raises when processing failed
    transiently: the event is then ``FAILED`` and reprocessable, and the caller answers 5xx so OrkestaPay retries.
    """
    event, outcome = store_webhook(message_id=message_id, body=body, headers=headers)
    if outcome != "stored":
        return event, outcome
    return event, process_event(event)


def _settle(event: Event, status: str, *, error: str = "", order_id: uuid.UUID | None = None) -> bool:
    """Record one processing's outcome on ``event``, unless another processing settled it first (processed or
    ignored): one conditional ``UPDATE``; for a processed event it is made under the order's lock, in
    :func:`process_event`'s transaction, so a concurrent processing of the same event waits until this one commits,
    then finds it settled. A failure sets when the
    reprocess sweep takes it up again (:func:`retry_at`). Returns whether this processing's outcome was recorded."""
    error = error[:2000]
    processed_at = timezone.now() if status in _SETTLED else None
    next_attempt_at = retry_at(event.attempts + 1) if status == EventStatus.FAILED else None
    values: dict[str, Any] = {
        "status": status,
        "error": error,
        "attempts": F("attempts") + 1,
        "processed_at": processed_at,
        "next_attempt_at": next_attempt_at,
        "examined_with": __version__,
        "event_type": event.event_type,
        "orkestapay_order_id": event.orkestapay_order_id,
    }
    if order_id is not None:
        values["order_id"] = order_id
    if not Event.objects.filter(pk=event.pk).exclude(status__in=_SETTLED).update(**values):
        return False
    event.status, event.error, event.processed_at = status, error, processed_at
    event.next_attempt_at, event.examined_with = next_attempt_at, __version__
    event.attempts += 1
    if order_id is not None:
        event.order_id = order_id
    return True


def retry_at(attempts: int) -> datetime:
    """When an event that failed ``attempts`` times is taken up again: ``EVENT_REPROCESS_AFTER`` seconds after the
    first failure, twice as long after each further one, at most :data:`MAX_REPROCESS_DELAY`."""
    first = float(conf.get("EVENT_REPROCESS_AFTER"))
    delay = min(timedelta(seconds=first * 2 ** min(max(attempts - 1, 0), 20)), MAX_REPROCESS_DELAY)
    return timezone.now() + delay


def is_transient(exc: BaseException) -> bool:
    """Whether a processing failure may go away if OrkestaPay retries soon: OrkestaPay unreachable, timing out,
    answering 5xx or 429 or refusing our token, or the database busy. An answer we cannot use, and a bug of ours, are
    not: retrying at OrkestaPay's pace would only pile up deliveries (the reprocess sweep retries with backoff)."""
    if isinstance(exc, DatabaseError):
        return True
    return isinstance(exc, (APIConnectionError, APIError)) and not is_unusable_answer(exc)


def process_event(event: Event) -> str:
    """Apply one stored event: re-read the attempts it names from the API (any attempt of ours, open or closed:
    late money lands) and apply them, marking the event processed in the same transaction. Returns ``processed``,
    ``ignored`` (nothing of ours matches), ``duplicate`` (another processing of the same event got there first:
    nothing is applied twice) or ``deferred`` (the processing failed on an answer we cannot use, or on a bug: the
    event is ``FAILED``, the order flagged where OrkestaPay's answer was at fault, and the reprocess sweep tries
    again later); raises, leaving the event ``FAILED``, on a transient failure (:func:`is_transient`).

    The same read settles the older unsettled events of the same OrkestaPay order (:mod:`.event_coverage`). The
    orders are locked before any event row is written, by every processing: two processings of one order's events
    that settle each other's events then wait on the order's lock, never on each other's event rows (no deadlock)."""
    parsed = parse_webhook_payload(event.payload)
    event.event_type = parsed.event_type
    event.orkestapay_order_id = (parsed.order_id or "")[:64]  # the field's length
    checkouts = find_checkouts_for(parsed)
    if not checkouts:
        known = parsed.event_type in HANDLED_EVENT_TYPES
        reason = "no order of ours matches this event" if known else f"unhandled event type {parsed.event_type!r}"
        ignored = _settle(event, EventStatus.IGNORED, error=reason)
        return "ignored" if ignored else "duplicate"
    order_ids = sorted({checkout.order_id for checkout in checkouts})  # one lock order: no deadlock between events
    covered = covered_by_read(event, parsed, checkouts)  # before the read is sent: what it will have seen
    try:
        try:
            reads = _read_for(parsed, checkouts, covered)
        except OrkestaPayError as exc:
            if not _only_a_covered_payment_failed(exc, parsed, covered):
                raise
            # A payment only a covered event named cannot be read: this event is not held up by it; the covered
            # events are left to their own processing.
            covered = Covered()
            reads = _read_for(parsed, checkouts, covered)
        extra = payment_bodies(event, parsed, covered)
        with transaction.atomic():
            take_write_lock(order_ids[0])  # first: SQLite's write lock (see services.locking)
            locked = {order_id: lock_order_row(order_id) for order_id in order_ids}
            own = _settle(event, EventStatus.PROCESSED, order_id=checkouts[0].order_id)
            if not own and not was_covered(event):
                return "duplicate"
            # A refund event settles its refund once: by the processing that settled the event (itself, or the one
            # whose read covered it), never again by a later one that finds it settled.
            settled = settle_covered(covered, by=event, order_id=checkouts[0].order_id)
            refunds = [parsed.payment_id] if own and parsed.event_type == "payment.refund" and parsed.payment_id else []
            refunds += [sibling.payment_id for sibling in settled if sibling.refund and sibling.payment_id]
            for order_id in order_ids:
                result = apply_reads(order_id, _of_order(reads, order_id), extra=extra, locked=locked[order_id])
                for payment_id in dict.fromkeys(refunds):  # covered ones: one order only
                    settle_by_refund_event(result.order, payment_id)
    except Exception as exc:  # noqa: BLE001 - recorded on the event; re-raised when transient
        return _failed(event, exc, checkouts[0].order_id)
    return "processed"


def _read_for(parsed: WebhookPayload, checkouts: list[Checkout], covered: Covered) -> list[AttemptRead]:
    """Read the event's attempts, with its own payment and those of the events the read covers."""
    payment_ids = ([parsed.payment_id] if parsed.payment_id else []) + covered.payment_ids
    return [read_attempt(checkout, payment_ids=payment_ids) for checkout in checkouts]


def _only_a_covered_payment_failed(exc: OrkestaPayError, parsed: WebhookPayload, covered: Covered) -> bool:
    """Whether the read failed on a payment that only a covered event named (``GET /v1/payments/{id}``)."""
    others = set(covered.payment_ids) - {parsed.payment_id}
    return bool(exc.path) and any(exc.path == f"/v1/payments/{payment_id}" for payment_id in others)


def _of_order(reads: list[AttemptRead], order_id: uuid.UUID) -> list[AttemptRead]:
    return [read for read in reads if read.checkout.order_id == order_id]


def _failed(event: Event, exc: Exception, order_id: uuid.UUID) -> str:
    """Record a failed processing on ``event``; re-raise a transient failure, else answer ``deferred``. An event
    another processing settled meanwhile (its own, or a read that covered it) answers ``duplicate``: nothing is
    left to retry."""
    event.refresh_from_db(fields=["status", "attempts", "error", "processed_at", "order"])  # rolled back
    with transaction.atomic():  # under the order's lock, as every write to an event of an order (no deadlock)
        with suppress(Order.DoesNotExist):
            lock_order(order_id)
        recorded = _settle(event, EventStatus.FAILED, error=f"{type(exc).__name__}: {exc}", order_id=order_id)
    if not recorded:
        logger.info("Webhook event %s: its processing failed (%s), but it was settled meanwhile", event.message_id, exc)
        return "duplicate"
    if is_transient(exc):
        logger.error("Webhook event %s failed (OrkestaPay retries it): %s", event.message_id, exc)
        raise exc
    if isinstance(exc, OrkestaPayError) and is_unusable_answer(exc):
        record_failure(order_id, exc)
        logger.error("Webhook event %s: OrkestaPay's answer could not be used: %s", event.message_id, exc)
    else:
        logger.exception("Webhook event %s failed; acknowledged, the reprocess sweep retries it", event.message_id)
    return "deferred"


def reopen_for_reexamination(event: Event) -> bool:
    """Put an event that an older version of this app ignored back to ``received``, so it is examined again (a newer
    version may read its envelope, or know its type). Returns whether this call reopened it."""
    reopened = (
        Event.objects.filter(pk=event.pk, status=EventStatus.IGNORED)
        .exclude(examined_with=__version__)
        .update(status=EventStatus.RECEIVED, processed_at=None)
    )
    if reopened:
        event.status, event.processed_at = EventStatus.RECEIVED, None
    return bool(reopened)


def reprocess_events(events: Iterable[Event]) -> BatchSummary:
    """Process failed (or never processed) events again, and examine again the events an older version ignored."""
    summary = BatchSummary()
    for event in events:
        if event.status == EventStatus.IGNORED:
            if not reopen_for_reexamination(event):
                continue
        elif Event.objects.filter(pk=event.pk, status__in=_SETTLED).exists():  # meanwhile: by another event's read
            summary.succeeded += 1
            continue
        try:
            outcome = process_event(event)
        except Exception:  # noqa: BLE001 - recorded on the event by process_event
            outcome = "deferred"
        if outcome == "deferred":
            summary.failed += 1
        else:
            summary.succeeded += 1
            summary.changed += int(outcome == "processed")
    return summary
