"""Background work as Django tasks (``django.tasks`` on Django 6, the ``django-tasks`` backport on 5.2; see
:mod:`.tasks_compat`): processing a stored webhook event, reconciling one order, and the periodic sweeps. Each
task is a thin wrapper around a service function, which the management commands call too.

The tasks go to the ``TASKS`` alias ``ORKESTAPAY["TASK_BACKEND"]`` and the queue ``ORKESTAPAY["TASK_QUEUE"]``
(read when a task is enqueued, so ``override_settings`` works). Under Django's default ``ImmediateBackend`` an
enqueued task runs at once, in the caller's process; with a real backend (database, Celery, RQ) a worker runs it.
"""

from __future__ import annotations

import logging
import time
from collections.abc import Callable
from dataclasses import dataclass, field
from typing import Any, TypeVar

from django.db import transaction

from . import conf, services
from .models import Order
from .tasks_compat import ImmediateBackend, Task, TaskResult, TaskResultStatus, task, task_backends

logger = logging.getLogger("django_orkestapay.tasks")

_Result = TypeVar("_Result")


def _summary(summary: services.BatchSummary) -> dict[str, int]:
    """A batch's counts as a task result (JSON)."""
    return {"succeeded": summary.succeeded, "failed": summary.failed, "changed": summary.changed}


@task
def process_webhook_event(event_id: int) -> str:
    """Process one stored webhook event (exactly once: a repeat finds it settled). Returns ``deferred`` when the
    processing failed on an answer that cannot be used (or a bug) and raises when it failed transiently; either way
    the event is then ``FAILED`` and the reprocess sweep takes it up again, with backoff."""
    return services.process_stored_event(event_id)


@task
def reconcile_order(order_id: str) -> bool:
    """Confirm one order with OrkestaPay (``services.sync_order``); returns whether its status changed. Raises
    when OrkestaPay could not be asked (recorded on the order's ``last_error``)."""
    return services.sync_order(Order.objects.get(pk=order_id)).changed


@task
def sync_orders_sweep() -> dict[str, int]:
    """The sync sweep: reconcile every order whose outcome may still change (``orkestapay_sync`` without its
    refunds part)."""
    return _summary(services.sync_orders(services.orders_to_reconcile()))


@task
def expire_checkouts_sweep() -> dict[str, int]:
    """The expiry sweep: read open checkouts past their expiry, then close them (``orkestapay_expire_checkouts``)."""
    return _summary(services.expire_checkouts())


@task
def reconcile_refunds_sweep() -> dict[str, int]:
    """The refund reconciliation: settle refunds whose outcome is unknown (the refunds part of ``orkestapay_sync``)."""
    return _summary(services.reconcile_refunds())


@task
def reprocess_events_sweep() -> dict[str, int]:
    """The reprocess sweep: webhook events whose task never ran (after ``EVENT_REPROCESS_AFTER``), failed ones once
    their backoff passed, and ignored ones an older version examined."""
    return _summary(services.reprocess_stale_events())


#: The periodic sweeps by their ``ORKESTAPAY["SCHEDULE"]`` name.
SWEEPS: dict[str, Task[[], dict[str, int]]] = {
    "reprocess_events": reprocess_events_sweep,
    "expire_checkouts": expire_checkouts_sweep,
    "reconcile_refunds": reconcile_refunds_sweep,
    "sync_orders": sync_orders_sweep,
}


def configured(job: Task[Any, _Result]) -> Task[Any, _Result]:
    """``job`` bound to the configured ``TASK_BACKEND`` and ``TASK_QUEUE``."""
    return job.using(backend=str(conf.get("TASK_BACKEND")), queue_name=str(conf.get("TASK_QUEUE")))


def enqueue(job: Task[Any, _Result], *args: Any) -> TaskResult[Any, _Result]:
    """Enqueue ``job`` on the configured backend and queue (under the ``ImmediateBackend`` it runs now)."""
    return configured(job).enqueue(*args)


def enqueue_on_commit(job: Task[Any, Any], *args: Any, on_failure: Callable[[Exception], None] | None = None) -> None:
    """Enqueue ``job`` once the current transaction commits (at once outside one). A backend that fails (a
    broker down) is logged, not raised: the caller stored what the task works on, and a sweep takes it up."""

    def send() -> None:
        try:
            enqueue(job, *args)
        except Exception as exc:  # noqa: BLE001 - the stored work is picked up by a sweep
            logger.error("Could not enqueue %s%r: %s", job.name, args, exc)
            if on_failure is not None:
                on_failure(exc)

    transaction.on_commit(send)


def processes_webhooks_inline() -> bool:
    """Whether the webhook endpoint processes a delivery in the request (``WEBHOOK_PROCESSING``): ``"inline"``,
    ``"queue"``, or ``"auto"`` (the default): inline when ``TASK_BACKEND`` is Django's ``ImmediateBackend``.

    The ``ImmediateBackend`` would run the task in the request anyway, but it keeps a failure to itself (the
    result is FAILED, nothing is raised), so the endpoint would answer 2xx for a delivery it could not process;
    inline, it answers 5xx and OrkestaPay retries, exactly as before background work existed.
    """
    mode = conf.get("WEBHOOK_PROCESSING")
    if mode == "inline":
        return True
    if mode == "queue":
        return False
    return isinstance(task_backends[str(conf.get("TASK_BACKEND"))], ImmediateBackend)


def schedule() -> dict[str, float]:
    """The sweeps to run periodically and their intervals in seconds, from ``ORKESTAPAY["SCHEDULE"]`` (a sweep
    it leaves out keeps its default; ``None`` or ``0`` turns one off)."""
    intervals = {**conf.DEFAULTS["SCHEDULE"], **(conf.get("SCHEDULE") or {})}
    return {name: float(seconds) for name, seconds in intervals.items() if name in SWEEPS and seconds}


#: A sweep still reported running this many seconds (or its interval, if longer) after it was enqueued is taken as
#: lost and enqueued again: a worker killed in the middle of it (SIGKILL, out of memory) leaves the database
#: backend's result ``RUNNING`` for good, which would otherwise stop that sweep until the scheduler restarts. Every
#: sweep is safe to run twice at once (each order, event and refund is applied under its own lock).
LOST_SWEEP_AFTER = 3600.0


@dataclass
class Scheduler:
    """Enqueues each sweep of :func:`schedule` when its interval has passed (every sweep at the first tick), on
    the configured backend: a worker runs it, or the ``ImmediateBackend`` runs it here. A sweep whose previous
    run is still waiting or running (a backend that can tell: the database and RQ backends can) is not enqueued
    again, so a stopped worker does not come back to a pile of sweeps; one reported running for longer than
    :data:`LOST_SWEEP_AFTER` is taken as lost with its worker, and enqueued again. Run one scheduler per site."""

    clock: Callable[[], float] = time.monotonic
    due: dict[str, float] = field(default_factory=dict)
    last: dict[str, TaskResult[Any, Any]] = field(default_factory=dict)

    def tick(self) -> list[str]:
        """Enqueue the sweeps that are due; return their names. A sweep that cannot be enqueued is logged and
        tried again at the next tick."""
        now = self.clock()
        enqueued = []
        for name, interval in schedule().items():
            if now < self.due.get(name, now) or self._still_pending(name, now=now, interval=interval):
                continue
            try:
                self.last[name] = enqueue(SWEEPS[name])
            except Exception as exc:  # noqa: BLE001 - a backend down must not stop the schedule
                logger.error("Could not enqueue the %s sweep: %s", name, exc)
                continue
            self.due[name] = now + interval
            enqueued.append(name)
        return enqueued

    def next_due(self) -> float:
        """Seconds until the next sweep is due (0 when one is due now)."""
        now = self.clock()
        return max(0.0, min((self.due.get(name, now) for name in schedule()), default=60.0) - now)

    def _still_pending(self, name: str, *, now: float, interval: float) -> bool:
        result = self.last.get(name)
        if result is None or result.is_finished:
            return False
        try:
            result.refresh()
        except Exception:  # noqa: BLE001 - a result the backend does not keep (or pruned): nothing to wait for
            return False
        if result.status == TaskResultStatus.RUNNING:
            running_for = now - (self.due[name] - interval)  # due was set to its enqueue time plus the interval
            if running_for > max(LOST_SWEEP_AFTER, interval):
                logger.warning(
                    "The %s sweep enqueued %d s ago is still reported running: taken as lost, enqueued again",
                    name,
                    running_for,
                )
                return False
            return True
        return result.status == TaskResultStatus.READY
