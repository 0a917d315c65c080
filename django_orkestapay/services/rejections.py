"""A bounded trace of refused webhook deliveries (bad signature, malformed body): anyone can POST to the webhook
endpoint, so what a refusal stores and logs must not grow with what a sender sends.

* Every refusal is counted, per day and kind (:class:`~django_orkestapay.models.RejectedWebhookCount`, one row per
  day and kind, shown in the admin): the counts stay whatever is pruned.
* Only the newest ``REJECTED_WEBHOOKS_KEPT`` refusals are kept as ``REJECTED`` events, each with its body cut to
  :data:`MAX_REJECTED_BODY` bytes and its kept headers to :data:`MAX_REJECTED_HEADER` characters: enough to see
  what is wrong (a rotated secret, a proxy that rewrites bodies), never more than a fixed number of bytes. A cap
  rather than a time window: a flood inside any window would still be unbounded.
* The log gets one line per :data:`LOG_INTERVAL` seconds per process, counting the refusals since the last one.
* A database that is busy loses the trace, never the answer: the sender still gets its 400.
"""

from __future__ import annotations

import logging
import threading
import time
from collections.abc import Callable, Mapping

from django.db import DatabaseError, IntegrityError, transaction
from django.db.models import F
from django.utils import timezone

from .. import conf
from ..models import Event, EventStatus, RejectedWebhookCount, RejectionKind

# One logger for the whole service layer, named as before the split, so a shop's logging configuration and its
# log filters keep working.
logger = logging.getLogger("django_orkestapay.services")

#: Bytes of a refused delivery's body that are kept.
MAX_REJECTED_BODY = 2048
#: Characters of each kept header of a refused delivery.
MAX_REJECTED_HEADER = 256
#: Seconds between two log lines about refused deliveries (per process).
LOG_INTERVAL = 60.0
#: At most this many old rejected events are deleted by one refusal (a first flood after an upgrade shrinks in steps).
PRUNE_BATCH = 500


class LogThrottle:
    """One log line per ``interval`` seconds: :meth:`hit` says when one is due and how many hits it stands for."""

    def __init__(self, interval: float, clock: Callable[[], float] = time.monotonic) -> None:
        self.interval = interval
        self.clock = clock
        self._lock = threading.Lock()
        self._last: float | None = None
        self._pending = 0

    def hit(self) -> int:
        """Count one; return how many hits the line due now stands for (this one included), or 0 when none is."""
        with self._lock:
            self._pending += 1
            now = self.clock()
            if self._last is not None and now - self._last < self.interval:
                return 0
            self._last, count, self._pending = now, self._pending, 0
            return count


rejection_log = LogThrottle(LOG_INTERVAL)


def record_rejection(*, body: bytes, kept_headers: Mapping[str, str], reason: str, verified: bool) -> Event:
    """Count a refused delivery and keep its bounded trace (see the module's docstring). Returns its event: saved,
    or unsaved (``pk`` None) when none is kept (``REJECTED_WEBHOOKS_KEPT = 0``, or the database was busy)."""
    kind = RejectionKind.MALFORMED if verified else RejectionKind.SIGNATURE
    keep = int(conf.get("REJECTED_WEBHOOKS_KEPT") or 0)
    event = _trace(body, kept_headers, reason, verified)
    try:
        with transaction.atomic():
            _count(kind)  # a write first: SQLite's write lock (see services.locking)
            if keep > 0:
                event.save()
            _prune(keep)
    except DatabaseError as exc:  # a busy database (SQLite's "database is locked"): the answer matters, not the trace
        logger.warning("A refused webhook delivery could not be recorded (%s)", exc)
        event.pk = None
    count = rejection_log.hit()
    if count:
        logger.warning(
            "Refused %d webhook deliver%s in the last %d s (latest: %s)",
            count,
            "y" if count == 1 else "ies",
            LOG_INTERVAL,
            reason[:200],
        )
    return event


def _count(kind: str) -> None:
    now = timezone.now()
    day = timezone.localdate(now)
    counts = RejectedWebhookCount.objects.filter(day=day, kind=kind)
    if counts.update(count=F("count") + 1, last_received_at=now):
        return
    try:
        with transaction.atomic():  # a savepoint: a concurrent first refusal of the day may insert the row too
            RejectedWebhookCount.objects.create(day=day, kind=kind, count=1, last_received_at=now)
    except IntegrityError:
        counts.update(count=F("count") + 1, last_received_at=now)


def _trace(body: bytes, kept_headers: Mapping[str, str], reason: str, verified: bool) -> Event:
    """The refused delivery's event, not saved yet, every part of it cut to a size counted in stored bytes."""
    headers = {name: _printable_ascii(value[:MAX_REJECTED_HEADER]) for name, value in kept_headers.items()}
    # PostgreSQL stores no NUL in text; bytes that are not UTF-8 become U+FFFD, and the text is cut again so that
    # those (three bytes each) cannot make it longer than the bytes it came from.
    text = body[:MAX_REJECTED_BODY].decode("utf-8", "replace").replace("\x00", "\ufffd")
    return Event(
        claimed_message_id=(headers.get("svix-id") or headers.get("webhook-id") or "")[:255],
        status=EventStatus.REJECTED,
        verified=verified,
        raw_body=text.encode("utf-8")[:MAX_REJECTED_BODY].decode("utf-8", "ignore"),
        headers=headers,
        error=reason[:500],
    )


def _printable_ascii(value: str) -> str:
    """Signing headers are ASCII: anything else is shown as ``?`` (one byte stored, never a ``\\uXXXX`` escape)."""
    return "".join(char if " " <= char <= "~" else "?" for char in value)


def _prune(keep: int) -> None:
    """Delete the rejected events older than the newest ``keep`` (at most :data:`PRUNE_BATCH` at a time)."""
    rejected = Event.objects.filter(status=EventStatus.REJECTED).order_by("-pk")
    stale = list(rejected.values_list("pk", flat=True)[keep : keep + PRUNE_BATCH])
    if stale:
        Event.objects.filter(pk__in=stale).delete()
