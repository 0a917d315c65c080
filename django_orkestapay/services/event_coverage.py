"""One read for a burst of webhook events: the unsettled events of the same OrkestaPay order that were stored
before an event's read began are settled by that read (``covered_by`` names the event whose read it was), so a
queue of ten events for one order costs one gateway read and one apply, not ten.

Sound because a covered event was stored, so sent by OrkestaPay about a change it had made, before the read that
covers it was sent: the read sees that change, as the event's own later read would. And only events stored at least
:data:`COVERED_AFTER` before the read are covered: should OrkestaPay's reads lag behind its events (no public source
says either way), an event that just arrived keeps its own, later read, and a burst that waited in a queue is what
one read settles. Only events whose body names the same OrkestaPay order id (the one the processed event's attempt
carries) are covered; their payment ids are read with it, their signed payment objects fill in what the read leaves
out, and a ``payment.refund`` among them settles its refund as its own processing would. Everything else (an event
naming only a payment or our reference, one stored since, one whose body cannot be read) is processed on its own.
"""

from __future__ import annotations

import uuid
from dataclasses import dataclass, field
from datetime import timedelta

from django.db.models import F
from django.utils import timezone

from .. import __version__
from ..client import RemotePayment
from ..models import Checkout, Event, EventStatus
from .webhook_payload import WebhookPayload, parse_webhook_payload

__all__ = ["COVERED_AFTER", "MAX_COVERED_EVENTS", "Covered", "covered_by_read", "settle_covered", "was_covered"]

#: At most this many older events are settled by one event's read (the rest wait for their own processing).
MAX_COVERED_EVENTS = 100
#: How long before a read an event must have been stored for the read to settle it.
COVERED_AFTER = timedelta(seconds=2)

_UNSETTLED = (EventStatus.RECEIVED, EventStatus.FAILED)


@dataclass(frozen=True)
class Covered:
    """The older unsettled events one read covers, and what their bodies add to it."""

    event_ids: list[int] = field(default_factory=list)
    #: The payment ids their bodies name, to be read with the order.
    payment_ids: list[str] = field(default_factory=list)
    #: Their complete signed payment objects, newest first.
    payments: list[RemotePayment] = field(default_factory=list)
    #: The payment ids of the ``payment.refund`` events among them.
    refund_payment_ids: list[str] = field(default_factory=list)


def covered_by_read(event: Event, parsed: WebhookPayload, checkouts: list[Checkout]) -> Covered:
    """The events an upcoming read for ``event`` covers: none unless the event found its one attempt by its
    OrkestaPay order id; then the verified, unsettled events stored :data:`COVERED_AFTER` before now whose bodies
    name that order id. One query, made *before* the read is sent."""
    remote_order_id = parsed.order_id or ""
    if len(checkouts) != 1 or not remote_order_id or checkouts[0].orkestapay_order_id != remote_order_id:
        return Covered()
    stored_before = timezone.now() - COVERED_AFTER
    rows = (
        Event.objects.filter(orkestapay_order_id=remote_order_id[:64], verified=True, status__in=_UNSETTLED)
        .filter(received_at__lte=stored_before)
        .exclude(pk=event.pk)
        .exclude(message_id=None)
        .order_by("-received_at", "-pk")
        .values_list("pk", "payload")[:MAX_COVERED_EVENTS]
    )
    covered = Covered()
    for pk, payload in rows:
        try:
            sibling = parse_webhook_payload(payload)
        except ValueError:  # its own processing records why it cannot be read
            continue
        if sibling.order_id != remote_order_id:
            continue
        covered.event_ids.append(pk)
        if sibling.payment_id and sibling.payment_id not in covered.payment_ids:
            covered.payment_ids.append(sibling.payment_id)
        if sibling.payment is not None:
            covered.payments.append(sibling.payment)
        if sibling.event_type == "payment.refund" and sibling.payment_id:
            covered.refund_payment_ids.append(sibling.payment_id)
    return covered


def settle_covered(covered: Covered, *, by: Event, order_id: uuid.UUID) -> int:
    """Settle the covered events that are still unsettled as processed by ``by``'s read (one statement, inside the
    processing's transaction, under the order's lock: see :func:`.webhooks.process_event`). Returns how many."""
    if not covered.event_ids:
        return 0
    return (
        Event.objects.filter(pk__in=covered.event_ids, status__in=_UNSETTLED)
        .exclude(pk=by.pk)
        .update(
            status=EventStatus.PROCESSED,
            covered_by=by,
            order_id=order_id,
            error="",
            attempts=F("attempts") + 1,
            processed_at=timezone.now(),
            next_attempt_at=None,
            examined_with=__version__,
        )
    )


def was_covered(event: Event) -> bool:
    """Whether another event's read settled ``event`` (its own read, made meanwhile, is still worth applying)."""
    return Event.objects.filter(pk=event.pk, covered_by__isnull=False).exists()
