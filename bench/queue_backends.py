"""The task backends the queued sections measure, behind one interface: how gunicorn and the workers are configured
(``bench.settings`` through the environment), the worker command, and what the queue holds (waiting, running, the
finished tasks' timestamps).

``database``: django-tasks-db, tasks are rows in the bench's PostgreSQL database, ``db_worker`` processes.
``rq``: django-tasks-rq, tasks are RQ jobs in Redis (database 1 of the bench's Redis, flushed before each run),
``rqworker`` processes as docs/background.rst's recipe runs them.
"""

from __future__ import annotations

import os
import subprocess
import sys
from dataclasses import dataclass
from datetime import datetime
from functools import cached_property
from typing import TYPE_CHECKING, Any

from .common import ROOT

if TYPE_CHECKING:
    from redis import Redis
    from rq import Queue

#: The worker command of each backend (``python -m django ...``), as the docs show it.
WORKER_COMMANDS = {
    "database": ["db_worker", "--interval", "0.05", "--no-startup-delay"],
    "rq": ["rqworker", "--job-class", "django_tasks_rq.Job", "--worker-class", "rq.worker.SimpleWorker", "default"],
}
QUEUE_BACKENDS = ("database", "rq")
#: What the tables call each backend's workers.
WORKER_NAMES = {"database": "db_worker", "rq": "rqworker"}


def task_settings(name: str, redis_url: str = "") -> dict[str, Any]:
    """The settings of one backend: ``TASKS``, for RQ ``RQ_QUEUES`` (one connection pool per process, as
    docs/background.rst's recipe), and ``EXTRA_APPS`` to add to ``INSTALLED_APPS``."""
    if name == "database":
        return {
            "TASKS": {"default": {"BACKEND": "django_tasks_db.DatabaseBackend", "QUEUES": ["default"]}},
            "EXTRA_APPS": [],
        }
    if name != "rq":
        raise ValueError(f"unknown task backend {name!r}")
    import redis

    pool = redis.ConnectionPool.from_url(redis_url)
    return {
        "TASKS": {"default": {"BACKEND": "django_tasks_rq.RQBackend", "QUEUES": ["default"]}},
        "RQ_QUEUES": {"default": {"HOST": "", "PORT": 0, "REDIS_CLIENT_KWARGS": {"connection_pool": pool}}},
        "EXTRA_APPS": ["django_rq", "django_tasks_rq"],
    }


@dataclass(frozen=True)
class TaskCounts:
    """The tasks of one run once drained: how many, how many did not succeed, and the span they ran in."""

    total: int
    failed: int
    first_started: datetime | None
    last_finished: datetime | None

    @property
    def span_s(self) -> float:
        if self.first_started is None or self.last_finished is None:
            return 0.0
        return (self.last_finished - self.first_started).total_seconds()


@dataclass(frozen=True)
class QueueBackend:
    """One task backend; ``redis_url`` is the Redis the RQ queue lives in."""

    name: str
    redis_url: str = ""

    @property
    def env(self) -> dict[str, str]:
        """What ``bench.settings`` needs, for gunicorn and the workers."""
        env = {"BENCH_TASKS": self.name}
        if self.name == "rq":
            env["BENCH_QUEUE_REDIS_URL"] = self.redis_url
        return env

    @property
    def workers_label(self) -> str:
        return WORKER_NAMES[self.name]

    def start_workers(self, count: int) -> list[subprocess.Popen[bytes]]:
        env = {**os.environ, **self.env}
        command = [sys.executable, "-m", "django", *WORKER_COMMANDS[self.name]]
        return [
            subprocess.Popen(command, cwd=ROOT, env=env, stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL)  # noqa: S603
            for _ in range(count)
        ]

    def clear(self) -> None:
        """Forget the previous run's tasks (the database backend's rows go with the bench's flush)."""
        if self.name == "rq":
            self._redis().flushdb()

    def waiting(self) -> int:
        """Tasks enqueued and not yet taken by a worker."""
        if self.name == "rq":
            return int(self._queue().count)
        from django_tasks_db.models import DBTaskResult

        return DBTaskResult.objects.filter(status="READY").count()

    def busy(self) -> bool:
        """Whether any task waits or runs."""
        if self.name == "rq":
            queue = self._queue()
            return bool(queue.count or queue.started_job_registry.count)
        from django_tasks_db.models import DBTaskResult

        return DBTaskResult.objects.filter(status__in=["READY", "RUNNING"]).exists()

    def counts(self) -> TaskCounts:
        if self.name == "rq":
            return self._rq_counts()
        from django.db.models import Max, Min
        from django_tasks_db.models import DBTaskResult

        tasks = DBTaskResult.objects.all()
        span = tasks.aggregate(first=Min("started_at"), last=Max("finished_at"))
        return TaskCounts(tasks.count(), tasks.exclude(status="SUCCESSFUL").count(), span["first"], span["last"])

    def _rq_counts(self) -> TaskCounts:
        from rq.job import Job

        queue = self._queue()
        ids = queue.finished_job_registry.get_job_ids()
        failed = queue.failed_job_registry.count + queue.count + queue.started_job_registry.count
        jobs = [job for job in Job.fetch_many(ids, connection=queue.connection) if job is not None]
        started = [job.started_at for job in jobs if job.started_at]
        ended = [job.ended_at for job in jobs if job.ended_at]
        return TaskCounts(len(ids) + failed, failed, min(started, default=None), max(ended, default=None))

    def redis_commands(self) -> int:
        """Commands the queue's Redis has run so far (0 for the database backend); see :meth:`commands_since`."""
        if self.name != "rq":
            return 0
        stats = self._stats_connection.info("commandstats")
        return sum(int(entry["calls"]) for entry in stats.values())

    def commands_since(self, before: int) -> int:
        """Commands run since ``redis_commands()`` returned ``before``, those two questions not counted (one open
        connection asks both, so no connection handshake is counted either)."""
        return max(0, self.redis_commands() - before - 1) if self.name == "rq" else 0

    @cached_property
    def _stats_connection(self) -> Redis:
        return self._redis()

    def _redis(self) -> Redis:
        from redis import Redis

        return Redis.from_url(self.redis_url)

    def _queue(self) -> Queue:
        from rq import Queue

        return Queue("default", connection=self._redis())


def queue_redis_url(redis_url: str) -> str:
    """The bench's Redis, database 1 (the fleet's token cache is in database 0)."""
    return redis_url.rsplit("/", 1)[0] + "/1"
