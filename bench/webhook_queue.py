"""Webhooks on the asynchronous path: the endpoint's intake (verify, store, enqueue) on gunicorn, and the drain of
those tasks by worker processes, on the database task backend or on RQ over Redis (:mod:`.queue_backends`).

Each run starts from an empty database and the same deliveries as :mod:`.webhook_load` (``events`` distinct ids
over ``orders`` paid orders plus re-deliveries, shuffled).

* **Burst** (:func:`run_once`): every delivery is posted while no worker runs, so the endpoint's own rate is
  measured (a re-delivery of an event still waiting is enqueued again); then ``task_workers`` workers start and run
  every task; the drain rate is tasks over the time from the first task started to the last finished (the tasks'
  own timestamps, so the workers' start-up is not counted).
* **Together** (:func:`run_together`): the workers run while the deliveries arrive, as fast as the senders go or at
  a fixed ``rate`` (a sender that does not wait, as OrkestaPay's retries do not), and the queue's depth (tasks
  waiting) is sampled every 0.1 s: whether the drain keeps up with the intake, or the queue grows (by how much per
  second), and how long the backlog takes to clear once the sending stops.

Checked afterwards: every answer 202 (queued) or 200; every id sent has one Event row, processed once
(``attempts == 1``); every task finished successfully; every order an event was about is paid; no other Event row.
"""

from __future__ import annotations

import subprocess
import threading
import time
from dataclasses import dataclass, field

from django_orkestapay.testing import FakeOrkestaPay

from .machine import floor_on
from .queries import signed_headers
from .queue_backends import QueueBackend, task_settings
from .webhook_load import LoadPlan, LoadResult, prepare_load, send, unpaid_orders


@dataclass
class QueueResult(LoadResult):
    """One run's intake figures (``elapsed_s`` is the intake's time, ``per_second`` its rate), drain and checks."""

    tasks: int = 0
    drain_s: float = 0.0
    drained: bool = False
    not_accepted: int = 0
    failed_tasks: int = 0
    #: Together runs: the target rate (0: as fast as the senders go), the queue's depth samples (seconds since the
    #: sending started, tasks waiting), and the seconds from the last answer until the queue was empty.
    rate: float = 0.0
    depths: list[tuple[float, int]] = field(default_factory=list)
    backlog_s: float = 0.0
    #: The queue's Redis commands over the drain (RQ; the workers' start-up and heartbeats included).
    drain_redis_commands: int = 0
    #: The Django floor's requests/s on the same gunicorn, just before the deliveries were sent.
    floor_per_second: float = 0.0

    @property
    def of_floor(self) -> float:
        """The intake rate as a share of the floor's: what travels from one machine to another."""
        return self.per_second / self.floor_per_second if self.floor_per_second else 0.0

    @property
    def drain_per_second(self) -> float:
        return self.tasks / self.drain_s if self.drain_s else 0.0

    @property
    def max_depth(self) -> int:
        return max((depth for _, depth in self.depths), default=0)

    @property
    def depth_at_end(self) -> int:
        """Tasks waiting when the last delivery was answered."""
        return next((depth for at, depth in reversed(self.depths) if at <= self.elapsed_s), 0)

    @property
    def growth_per_second(self) -> float:
        """How fast the queue grew while the deliveries arrived (0 when the drain kept up)."""
        return self.depth_at_end / self.elapsed_s if self.elapsed_s else 0.0

    @property
    def kept_up(self) -> bool:
        """The drain kept up with the intake: at the end of the sending, less than half a second of intake waits
        (a queue that grew without bound would hold ``growth x seconds``)."""
        return self.depth_at_end <= 0.5 * self.per_second

    @property
    def ok(self) -> bool:
        problems = (self.lost, self.applied_twice, self.not_accepted, self.failed_tasks, self.unpaid_orders)
        return self.drained and not any(problems) and not self.stray_events


def _wait_drained(backend: QueueBackend, timeout: float) -> bool:
    """Wait until no task waits or runs. False when time ran out."""
    deadline = time.monotonic() + timeout
    while time.monotonic() < deadline:
        if not backend.busy():
            return True
        time.sleep(0.05)
    return False


def _stop(workers: list[subprocess.Popen[bytes]]) -> None:
    for worker in workers:
        worker.terminate()
    for worker in workers:
        worker.wait(timeout=30)


def _check(result: QueueResult, backend: QueueBackend) -> None:
    from django_orkestapay.models import Event, EventStatus

    sent = {a.message_id for a in result.answers}
    result.not_accepted = sum(1 for a in result.answers if a.status not in (200, 202))
    rows = {e.message_id: e for e in Event.objects.filter(message_id__in=sent)}
    result.lost = sum(1 for message_id in sent if rows.get(message_id) is None) + sum(
        1 for event in rows.values() if event.status != EventStatus.PROCESSED
    )
    result.applied_twice = sum(1 for event in rows.values() if event.attempts > 1)
    result.stray_events = Event.objects.exclude(message_id__in=sent).count()
    counts = backend.counts()
    result.tasks, result.failed_tasks, result.drain_s = counts.total, counts.failed, counts.span_s
    result.unpaid_orders = unpaid_orders(sent)


def run_once(
    fake: FakeOrkestaPay, server_url: str, secret: str, plan: LoadPlan, *, backend: QueueBackend, task_workers: int
) -> QueueResult:
    """One bounded burst run on an emptied database: intake on the queued server, then the drain."""
    deliveries = prepare_load(fake, plan)
    backend.clear()
    floor = floor_on(server_url, workers=0, threads=plan.concurrency).per_second
    answers, elapsed = send(server_url, secret, plan, deliveries)
    result = QueueResult(planned=len(deliveries), answers=answers, elapsed_s=elapsed, floor_per_second=floor)
    commands = backend.redis_commands()
    workers = backend.start_workers(task_workers)
    try:
        result.drained = _wait_drained(backend, timeout=max(60.0, plan.time_limit * 4))
    finally:
        _stop(workers)
    result.drain_redis_commands = backend.commands_since(commands)
    _check(result, backend)
    return result


@dataclass(frozen=True)
class Costs:
    """What one queued delivery costs, counted (the same on any machine): the SQL statements of its intake
    (transaction control included) and the Redis commands, then the SQL statements of its task."""

    intake_sql: list[str]
    intake_redis: int
    task_sql: int

    def __str__(self) -> str:
        statements = ", ".join(self.intake_sql)
        return (
            f"{len(self.intake_sql)} SQL statements ({statements}) and {self.intake_redis} Redis commands per queued "
            f"delivery; {self.task_sql} SQL statements for its task"
        )


def intake_costs(fake: FakeOrkestaPay, secret: str, backend: QueueBackend) -> Costs:
    """Count one queued delivery, in this process (Django's test client), after a first one has opened the
    connections; then its task, run here."""
    from django.conf import settings
    from django.db import connection
    from django.test import Client, override_settings
    from django.test.utils import CaptureQueriesContext

    from django_orkestapay import tasks
    from django_orkestapay.models import Event

    plan = LoadPlan(seed=0, orders=1, events=2, duplicates=0.0, concurrency=1, time_limit=10.0)
    first, second = prepare_load(fake, plan)
    backend.clear()
    overrides = task_settings(backend.name, backend.redis_url)
    del overrides["EXTRA_APPS"]
    client = Client()

    def post(message_id: str, body: bytes) -> None:
        headers = signed_headers(secret, message_id, body)
        response = client.post("/orkestapay/webhook/", data=body, content_type="application/json", headers=headers)
        if response.status_code != 202:
            raise RuntimeError(f"a queued delivery was answered {response.status_code}: {response.content[:200]!r}")

    with override_settings(**overrides, ORKESTAPAY={**settings.ORKESTAPAY, "WEBHOOK_PROCESSING": "queue"}):
        post(first.message_id, first.body)
        commands = backend.redis_commands()
        with CaptureQueriesContext(connection) as intake:
            post(second.message_id, second.body)
        redis_commands = backend.commands_since(commands)
        event = Event.objects.get(message_id=second.message_id)
        with CaptureQueriesContext(connection) as task:
            tasks.process_webhook_event.call(event.pk)
    backend.clear()
    return Costs([" ".join(q["sql"].split()[:3]) for q in intake.captured_queries], redis_commands, len(task))


class DepthSampler:
    """Samples the queue's depth every ``interval`` seconds in a thread, from ``start()`` until ``stop()``."""

    def __init__(self, backend: QueueBackend, interval: float = 0.1) -> None:
        self.backend, self.interval = backend, interval
        self.samples: list[tuple[float, int]] = []
        self._stop = threading.Event()
        self._thread = threading.Thread(target=self._run, name="queue-depth", daemon=True)
        self._started = 0.0

    def start(self) -> None:
        self._started = time.perf_counter()
        self._thread.start()

    def _run(self) -> None:
        from django.db import connection

        try:
            while not self._stop.is_set():
                self.samples.append((time.perf_counter() - self._started, self.backend.waiting()))
                self._stop.wait(self.interval)
        finally:
            connection.close()

    def stop(self) -> list[tuple[float, int]]:
        self._stop.set()
        if self._thread.is_alive():
            self._thread.join(timeout=10)
        return self.samples


def run_together(
    fake: FakeOrkestaPay,
    server_url: str,
    secret: str,
    plan: LoadPlan,
    *,
    backend: QueueBackend,
    task_workers: int,
    rate: float = 0.0,
) -> QueueResult:
    """One run with the workers draining while the deliveries arrive (at ``rate`` per second, or as fast as the
    senders go): the intake's rate and latency under that load, the queue's depth over time, the backlog."""
    deliveries = prepare_load(fake, plan)
    backend.clear()
    floor = floor_on(server_url, workers=0, threads=plan.concurrency).per_second  # before the workers start
    workers = backend.start_workers(task_workers)
    sampler = DepthSampler(backend)
    try:
        time.sleep(2.0)  # the workers' start-up (Django, a connection), so the drain is there from the first task
        sampler.start()
        answers, elapsed = send(server_url, secret, plan, deliveries, rate)
        sent_at = time.perf_counter()
        drained = _wait_drained(backend, timeout=max(60.0, plan.time_limit * 4))
        backlog = time.perf_counter() - sent_at
    finally:
        depths = sampler.stop()
        _stop(workers)
    result = QueueResult(planned=len(deliveries), answers=answers, elapsed_s=elapsed, rate=rate)
    result.floor_per_second = floor
    result.drained, result.depths, result.backlog_s = drained, depths, backlog
    _check(result, backend)
    return result
