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
from datetime import datetime, timedelta

from django.db.models import F
from django.utils import timezone

from .. import __version__, conf
from ..client import RemotePayment
from ..client.reads import MAX_PAYMENT_READS
from ..models import Checkout, Event, EventStatus
from .webhook_payload import WebhookPayload, parse_webhook_payload

__all__ = [
    "COVERED_AFTER",
    "MAX_COVERED_EVENTS",
    "Covered",
    "covered_by_read",
    "payment_bodies",
    "settle_covered",
    "was_covered",
]

#: At most this many older events are settled by one event's read (the rest wait for their own processing).
MAX_COVERED_EVENTS = 100
#: How long before a read an event must have been stored for the read to settle it.
COVERED_AFTER = timedelta(seconds=2)

_UNSETTLED = (EventStatus.RECEIVED, EventStatus.FAILED)


@dataclass(frozen=True)
class Sibling:
    """One older unsettled event a read covers, and what its body adds to the read."""

    pk: int
    received_at: datetime
    payment_id: str | None
    payment: RemotePayment | None
    refund: bool


@dataclass(frozen=True)
class Covered:
    """The older unsettled events one read covers, newest first."""

    siblings: list[Sibling] = field(default_factory=list)

    @property
    def payment_ids(self) -> list[str]:
        """The payment ids their bodies name, to be read with the order."""
        return list(dict.fromkeys(s.payment_id for s in self.siblings if s.payment_id))


def covered_by_read(event: Event, parsed: WebhookPayload, checkouts: list[Checkout]) -> Covered:
    """The events an upcoming read for ``event`` covers: none unless the event found its one attempt by its
    OrkestaPay order id; then the verified, unsettled events whose bodies name that order id, stored at least
    :data:`COVERED_AFTER` before now and within ``RECONCILE_WINDOW`` (an older one is the reprocess sweep's no
    more), as long as their payment ids and the event's own fit in one read (:data:`.client.reads.MAX_PAYMENT_READS`:
    a payment of a covered event is always read). One query, made *before* the read is sent."""
    remote_order_id = parsed.order_id or ""
    if len(checkouts) != 1 or not remote_order_id or checkouts[0].orkestapay_order_id != remote_order_id:
        return Covered()
    now = timezone.now()
    window = timedelta(seconds=float(conf.get("RECONCILE_WINDOW")))
    rows = (
        Event.objects.filter(orkestapay_order_id=remote_order_id[:64], verified=True, status__in=_UNSETTLED)
        .filter(received_at__lte=now - COVERED_AFTER, received_at__gte=now - window)
        .exclude(pk=event.pk)
        .exclude(message_id=None)
        .order_by("-received_at", "-pk")
        .values_list("pk", "received_at", "payload")[:MAX_COVERED_EVENTS]
    )
    read_ids = {parsed.payment_id} if parsed.payment_id else set()
    covered = Covered()
    for pk, received_at, payload in rows:
        try:
            body = parse_webhook_payload(payload)
        except ValueError:  # its own processing records why it cannot be read
            continue
        if body.order_id != remote_order_id:
            continue
        if body.payment_id and body.payment_id not in read_ids:
            if len(read_ids) >= MAX_PAYMENT_READS:  # its payment would not be read: left to its own processing
                continue
            read_ids.add(body.payment_id)
        refund = body.event_type == "payment.refund"
        covered.siblings.append(Sibling(pk, received_at, body.payment_id, body.payment, refund))
    return covered


def payment_bodies(event: Event, parsed: WebhookPayload, covered: Covered) -> list[RemotePayment]:
    """The signed payment objects of ``event`` and the events it covers, newest first: where several fill in one
    payment the API names without its details, the newest body (the latest state OrkestaPay sent) is the one
    taken (:func:`.attempts.reported_payments` takes the first)."""
    bodies = [(s.received_at, s.pk, s.payment) for s in covered.siblings if s.payment is not None]
    if parsed.payment is not None:
        bodies.append((event.received_at, event.pk, parsed.payment))
    return [payment for _, _, payment in sorted(bodies, key=lambda body: (body[0], body[1]), reverse=True)]


def settle_covered(covered: Covered, *, by: Event, order_id: uuid.UUID) -> list[Sibling]:
    """Settle the covered events that are still unsettled as processed by ``by``'s read, inside the processing's
    transaction, under the order's lock (every write to an event of the order is made under it: see
    :func:`.webhooks.process_event`), so the ones found unsettled here are the ones settled. Returns those."""
    if not covered.siblings:
        return []
    by_pk = {s.pk: s for s in covered.siblings}
    unsettled = Event.objects.filter(pk__in=list(by_pk), status__in=_UNSETTLED)  # never ``by``: not a sibling
    pks = list(unsettled.select_for_update().values_list("pk", flat=True))
    if pks:
        Event.objects.filter(pk__in=pks).update(
            status=EventStatus.PROCESSED,
            covered_by=by,
            order_id=order_id,
            error="",
            attempts=F("attempts") + 1,
            processed_at=timezone.now(),
            next_attempt_at=None,
            examined_with=__version__,
        )
    return [by_pk[pk] for pk in pks]


def was_covered(event: Event) -> bool:
    """Whether another event's read settled ``event`` (its own read, made meanwhile, is still worth applying)."""
    return Event.objects.filter(pk=event.pk, covered_by__isnull=False).exists()
