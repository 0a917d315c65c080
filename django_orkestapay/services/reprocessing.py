"""Stored webhook events processed later: one event by its id (what the background task does), and the sweep
that takes up events whose processing never ran or failed, so nothing depends on the task queue being lossless.
Processing itself (exactly once per event) is :func:`.webhooks.process_event`."""

from __future__ import annotations

from datetime import datetime, timedelta

from django.db import models
from django.db.models import Q
from django.utils import timezone

from .. import __version__, conf
from ..models import Event, EventStatus
from .batch import BatchSummary
from .webhooks import process_event, reprocess_events

#: How many events one run of the sweep takes up at most (the fewest attempts first, then the oldest).
REPROCESS_BATCH = 100


def process_stored_event(event_id: int) -> str:
    """Process the stored, verified event ``event_id`` unless it is settled already. Returns ``processed``,
    ``ignored``, ``duplicate`` (settled before, or by a concurrent processing), ``deferred`` (failed for a reason a
    prompt retry cannot fix: left ``FAILED`` for the reprocess sweep) or ``missing`` (no such verified event);
    raises, leaving the event ``FAILED``, when the processing failed transiently."""
    event = Event.objects.filter(pk=event_id, verified=True).exclude(message_id=None).first()
    if event is None:
        return "missing"
    if event.status in (EventStatus.PROCESSED, EventStatus.IGNORED, EventStatus.REJECTED):
        return "duplicate"
    return process_event(event)


def events_to_reprocess(*, now: datetime | None = None) -> models.QuerySet[Event]:
    """Verified events younger than ``RECONCILE_WINDOW`` that are due: ``received`` ones after
    ``EVENT_REPROCESS_AFTER`` seconds (their task never ran), ``failed`` ones once their backoff passed
    (``next_attempt_at``: the wait doubles after each failure), and ``ignored`` ones that an older version of this
    app examined (a newer one may read them). The fewest attempts first, so an event that keeps failing does not hold
    up the others."""
    now = now or timezone.now()
    waited = now - timedelta(seconds=float(conf.get("EVENT_REPROCESS_AFTER")))
    window = now - timedelta(seconds=float(conf.get("RECONCILE_WINDOW")))
    unsettled = Q(status__in=[EventStatus.RECEIVED, EventStatus.FAILED]) & (
        Q(next_attempt_at__lte=now) | Q(next_attempt_at__isnull=True, received_at__lte=waited)
    )
    examined_before = Q(status=EventStatus.IGNORED) & ~Q(examined_with=__version__)
    return (
        Event.objects.filter(unsettled | examined_before, verified=True, received_at__gte=window)
        .exclude(message_id=None)
        .order_by("attempts", "received_at")
    )


def reprocess_stale_events(*, limit: int = REPROCESS_BATCH) -> BatchSummary:
    """The reprocess sweep: process :func:`events_to_reprocess` again, at most ``limit`` of them."""
    return reprocess_events(events_to_reprocess()[:limit])
