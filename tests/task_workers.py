"""Real task workers for the tests: ``db_worker`` processes (django-tasks-db) on the test's PostgreSQL database, or
``rqworker`` processes (django-tasks-rq) on a Redis server, pointed at the test's fake gateway; a wait until they
have run every task; and a throwaway Redis server a test can stop and start again."""

from __future__ import annotations

import json
import os
import shutil
import signal
import socket
import subprocess
import sys
import tempfile
import time
import uuid
from collections.abc import Iterator
from contextlib import contextmanager
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any
from urllib.parse import quote

from django.db import connection

ROOT = Path(__file__).resolve().parent.parent
#: The database backend as the workers and the test process configure it.
DATABASE_TASKS = {"default": {"BACKEND": "django_tasks_db.DatabaseBackend", "QUEUES": ["default"]}}
#: The RQ backend (django-tasks-rq) likewise, with its apps; ``RQ_QUEUES`` comes from :func:`rq_queues`.
RQ_APPS = ["django_rq", "django_tasks_rq"]
RQ_TASKS = {"default": {"BACKEND": "django_tasks_rq.RQBackend", "QUEUES": ["default"]}}
#: How the tests run ``rqworker``: the documented recipe (docs/background.rst).
RQ_WORKER = ["rqworker", "--job-class", "django_tasks_rq.Job", "--worker-class", "rq.worker.SimpleWorker"]


def rq_queues(redis_url: str) -> dict[str, dict[str, Any]]:
    """django-rq's ``RQ_QUEUES`` for one queue, ``default``, on ``redis_url``, as docs/background.rst's recipe
    writes it: one connection pool for the process (with ``URL``, django-rq opens a new connection per enqueue)."""
    from redis import ConnectionPool

    pool = ConnectionPool.from_url(redis_url)
    return {"default": {"HOST": "", "PORT": 0, "REDIS_CLIENT_KWARGS": {"connection_pool": pool}}}


def database_url_for_workers() -> str:
    """The test database (the one this test writes to), as a URL for other processes."""
    db = connection.settings_dict
    credentials = quote(db["USER"] or "postgres") + (f":{quote(db['PASSWORD'])}" if db["PASSWORD"] else "")
    return f"postgres://{credentials}@{db['HOST'] or '127.0.0.1'}:{db['PORT'] or 5432}/{db['NAME']}"


@dataclass
class Workers:
    """The worker processes of :func:`task_workers`: each in its own session, so :meth:`kill` can take down the
    whole of one (an ``rqworker`` and any child it forked) at once."""

    command: list[str]
    env: dict[str, str]
    log_dir: Path
    names: list[str] = field(default_factory=list)
    processes: list[subprocess.Popen[bytes]] = field(default_factory=list)
    restarted: int = 0

    def start(self, name: str) -> None:
        command = [*self.command, "--name", name, "default"] if self.command[0] == "rqworker" else self.command
        log = (self.log_dir / f"worker-{name}.log").open("ab")
        process = subprocess.Popen(
            [sys.executable, "-m", "django", *command],
            cwd=ROOT,
            env=self.env,
            stdout=log,
            stderr=subprocess.STDOUT,
            start_new_session=True,
        )
        log.close()
        self.names.append(name)
        self.processes.append(process)

    def kill(self, name: str) -> None:
        """SIGKILL the worker ``name`` (its whole process group), as the OOM killer or a lost machine would."""
        process = self.processes[self.names.index(name)]
        os.killpg(process.pid, signal.SIGKILL)
        process.wait(timeout=10)

    def restart_exited(self) -> None:
        """Start again every worker that exited (what systemd's ``Restart=always`` or a Procfile runner does)."""
        for index, process in enumerate(self.processes):
            if process.poll() is not None:
                name = f"{self.names[index]}-r{self.restarted}"
                self.restarted += 1
                self.start(name)

    def stop(self) -> None:
        """SIGTERM (each worker finishes its current task), then SIGKILL what is still running."""
        for process in self.processes:
            if process.poll() is None:
                process.terminate()
        for process in self.processes:
            try:
                process.wait(timeout=20)
            except subprocess.TimeoutExpired:
                os.killpg(process.pid, signal.SIGKILL)
                process.wait(timeout=10)


@contextmanager
def task_workers(
    count: int, orkestapay: dict[str, Any], signal_file: Path, log_dir: Path, *, redis_url: str | None = None
) -> Iterator[Workers]:
    """``count`` worker processes running until the block ends: ``db_worker`` on the test database, or with
    ``redis_url`` ``rqworker`` on that Redis (then stopped with SIGTERM, which both handle by finishing their
    current task)."""
    env = {
        **os.environ,
        "DJANGO_SETTINGS_MODULE": "tests.worker_settings",
        "TEST_DATABASE_URL": database_url_for_workers(),
        "ORKESTAPAY_TEST_WORKER_SETTINGS": json.dumps(orkestapay),
        "ORKESTAPAY_TEST_SIGNAL_FILE": str(signal_file),
        "PYTHONPATH": str(ROOT),
    }
    if redis_url is None:
        command = ["db_worker", "--interval", "0.05", "--no-startup-delay"]
    else:
        env.update(ORKESTAPAY_TEST_TASKS="rq", ORKESTAPAY_TEST_REDIS_URL=redis_url)
        command = RQ_WORKER
    workers = Workers(command=command, env=env, log_dir=log_dir)
    try:
        for index in range(count):
            workers.start(f"w{index}-{uuid.uuid4().hex[:6]}")
        yield workers
    finally:
        workers.stop()


def wait_until_drained(timeout: float = 120.0) -> int:
    """Wait until no task is waiting or running and no verified event is unsettled; return how many tasks ran
    successfully."""
    from django_tasks_db.models import DBTaskResult

    deadline = time.monotonic() + timeout
    while time.monotonic() < deadline:
        unfinished = DBTaskResult.objects.filter(status__in=["READY", "RUNNING"]).exists()
        if not unfinished and not unsettled_events():
            break
        time.sleep(0.1)
    return DBTaskResult.objects.filter(status="SUCCESSFUL").count()


def unsettled_events() -> int:
    """Verified events not processed yet (``received``)."""
    from django_orkestapay.models import Event, EventStatus

    return Event.objects.filter(verified=True, status=EventStatus.RECEIVED).count()


class RedisQueue:
    """What RQ holds for the ``default`` queue on one Redis: tasks waiting, running, finished, failed."""

    def __init__(self, redis_url: str) -> None:
        from redis import Redis
        from rq import Queue

        self.connection = Redis.from_url(redis_url)
        self.queue = Queue("default", connection=self.connection)

    def waiting(self) -> int:
        return int(self.queue.count)

    def running(self) -> list[str]:
        """Ids of the jobs a worker has started and not finished (a killed worker's stay here)."""
        return list(self.queue.started_job_registry.get_job_ids())

    def finished(self) -> int:
        return int(self.queue.finished_job_registry.count)

    def failed(self) -> int:
        return int(self.queue.failed_job_registry.count)

    def worker_of(self, job_id: str) -> str | None:
        """The name of the worker running ``job_id``."""
        job = self.queue.fetch_job(job_id)
        return None if job is None else job.worker_name

    def wait_until_drained(
        self,
        *,
        abandoned: frozenset[str] = frozenset(),
        unsettled: int = 0,
        workers: Workers | None = None,
        timeout: float = 120.0,
    ) -> bool:
        """Wait until no task waits, none runs (but the ``abandoned`` ones, whose worker was killed) and at most
        ``unsettled`` verified events are unsettled, restarting any of ``workers`` that exited meanwhile. False
        when time ran out."""
        deadline = time.monotonic() + timeout
        while time.monotonic() < deadline:
            if workers is not None:
                workers.restart_exited()
            try:
                idle = not self.waiting() and not set(self.running()) - abandoned
            except Exception:  # noqa: BLE001 - Redis down (a test stopped it): not drained
                idle = False
            if idle and unsettled_events() <= unsettled:
                return True
            time.sleep(0.1)
        return False


class RedisServer:
    """A throwaway ``redis-server`` on a free loopback port, without persistence (a restart forgets everything, as
    a Redis without AOF or RDB does), that a test can :meth:`stop` and :meth:`start` again on the same port."""

    def __init__(self) -> None:
        binary = shutil.which("redis-server")
        if binary is None:
            raise RuntimeError("redis-server not found (apt-get install redis-server; scripts/test does)")
        self.binary = binary
        self.dir = Path(tempfile.mkdtemp(prefix="orkestapay-test-redis-"))
        with socket.socket() as probe:
            probe.bind(("127.0.0.1", 0))
            self.port = int(probe.getsockname()[1])
        self.url = f"redis://127.0.0.1:{self.port}/0"
        self._process: subprocess.Popen[bytes] | None = None

    def start(self) -> None:
        from redis import Redis

        command = [self.binary, "--bind", "127.0.0.1", "--port", str(self.port), "--save", "", "--appendonly", "no"]
        with (self.dir / "log").open("ab") as log:
            self._process = subprocess.Popen(command, cwd=self.dir, stdout=log, stderr=subprocess.STDOUT)
        deadline = time.monotonic() + 20
        while time.monotonic() < deadline:
            try:
                if Redis.from_url(self.url, socket_timeout=1).ping():
                    return
            except Exception:  # noqa: BLE001 - not listening yet
                time.sleep(0.05)
        raise RuntimeError(f"redis-server did not start; see {self.dir / 'log'}")

    def stop(self) -> None:
        """SIGKILL: whatever it held is gone."""
        process, self._process = self._process, None
        if process is not None:
            process.kill()
            process.wait(timeout=10)

    def close(self) -> None:
        self.stop()
        shutil.rmtree(self.dir, ignore_errors=True)
