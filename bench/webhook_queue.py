"""Webhooks on the asynchronous path: the endpoint's intake (verify, store, enqueue on the database task backend)
on gunicorn, then the drain of those tasks by ``db_worker`` processes, measured apart.

Each run starts from an empty database and the same deliveries as :mod:`.webhook_load` (``events`` distinct ids
over ``orders`` paid orders plus re-deliveries, shuffled). Intake: every delivery is posted while no worker runs,
so the endpoint's own rate is measured (a re-delivery of an event still waiting is enqueued again). Drain: then
``task_workers`` worker processes start and run every task; the rate is tasks over the time from the first task
started to the last finished (the tasks' own timestamps, so the workers' start-up is not counted). Checked
afterwards: every answer 202 (queued) or 200; every id sent has one Event row, processed once (``attempts == 1``);
every task finished successfully; every order an event was about is paid; no other Event row exists.
"""

from __future__ import annotations

import os
import subprocess
import sys
import time
from dataclasses import dataclass

from django_orkestapay.testing import FakeOrkestaPay

from .common import ROOT
from .webhook_load import LoadPlan, LoadResult, send_load, unpaid_orders

#: How a gunicorn or worker process of this section configures its tasks (``bench.settings``).
QUEUED_ENV = {"BENCH_TASKS": "database"}


@dataclass
class QueueResult(LoadResult):
    """One run's intake figures (``elapsed_s`` is the intake's time, ``per_second`` its rate), drain and checks."""

    tasks: int = 0
    drain_s: float = 0.0
    drained: bool = False
    not_accepted: int = 0
    failed_tasks: int = 0

    @property
    def drain_per_second(self) -> float:
        return self.tasks / self.drain_s if self.drain_s else 0.0

    @property
    def ok(self) -> bool:
        problems = (self.lost, self.applied_twice, self.not_accepted, self.failed_tasks, self.unpaid_orders)
        return self.drained and not any(problems) and not self.stray_events


def _drain(task_workers: int, timeout: float) -> bool:
    """Start the workers, wait until no task is waiting or running, stop them. False when time ran out."""
    from django_tasks_db.models import DBTaskResult

    env = {**os.environ, **QUEUED_ENV}
    command = [sys.executable, "-m", "django", "db_worker", "--interval", "0.05", "--no-startup-delay"]
    workers = [
        subprocess.Popen(command, cwd=ROOT, env=env, stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL)  # noqa: S603
        for _ in range(task_workers)
    ]
    deadline = time.monotonic() + timeout
    try:
        while time.monotonic() < deadline:
            if not DBTaskResult.objects.filter(status__in=["READY", "RUNNING"]).exists():
                return True
            time.sleep(0.1)
        return False
    finally:
        for worker in workers:
            worker.terminate()
        for worker in workers:
            worker.wait(timeout=30)


def _check(result: QueueResult) -> None:
    from django.db.models import Max, Min
    from django_tasks_db.models import DBTaskResult

    from django_orkestapay.models import Event, EventStatus

    sent = {a.message_id for a in result.answers}
    result.not_accepted = sum(1 for a in result.answers if a.status not in (200, 202))
    rows = {e.message_id: e for e in Event.objects.filter(message_id__in=sent)}
    result.lost = sum(1 for message_id in sent if rows.get(message_id) is None) + sum(
        1 for event in rows.values() if event.status != EventStatus.PROCESSED
    )
    result.applied_twice = sum(1 for event in rows.values() if event.attempts > 1)
    result.stray_events = Event.objects.exclude(message_id__in=sent).count()
    tasks = DBTaskResult.objects.all()
    result.tasks = tasks.count()
    result.failed_tasks = tasks.exclude(status="SUCCESSFUL").count()
    span = tasks.aggregate(first=Min("started_at"), last=Max("finished_at"))
    if span["first"] and span["last"]:
        result.drain_s = (span["last"] - span["first"]).total_seconds()
    result.unpaid_orders = unpaid_orders(sent)


def run_once(fake: FakeOrkestaPay, server_url: str, secret: str, plan: LoadPlan, *, task_workers: int) -> QueueResult:
    """One bounded run on an emptied database: intake on the queued server, then the drain."""
    planned, answers, elapsed = send_load(fake, server_url, secret, plan)
    result = QueueResult(planned=planned, answers=answers, elapsed_s=elapsed)
    result.drained = _drain(task_workers, timeout=max(60.0, plan.time_limit * 4))
    _check(result)
    return result
