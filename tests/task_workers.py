"""Real task workers for the tests: ``db_worker`` processes (django-tasks-db) on the test's PostgreSQL database,
pointed at the test's fake gateway, and a wait until they have run every task."""

from __future__ import annotations

import json
import os
import subprocess
import sys
import time
from collections.abc import Iterator
from contextlib import contextmanager
from pathlib import Path
from typing import Any
from urllib.parse import quote

from django.db import connection

ROOT = Path(__file__).resolve().parent.parent
#: The database backend as the workers and the test process configure it.
DATABASE_TASKS = {"default": {"BACKEND": "django_tasks_db.DatabaseBackend", "QUEUES": ["default"]}}


def database_url_for_workers() -> str:
    """The test database (the one this test writes to), as a URL for other processes."""
    db = connection.settings_dict
    credentials = quote(db["USER"] or "postgres") + (f":{quote(db['PASSWORD'])}" if db["PASSWORD"] else "")
    return f"postgres://{credentials}@{db['HOST'] or '127.0.0.1'}:{db['PORT'] or 5432}/{db['NAME']}"


@contextmanager
def task_workers(count: int, orkestapay: dict[str, Any], signal_file: Path, log_dir: Path) -> Iterator[None]:
    """``count`` worker processes running until the block ends (then stopped with SIGTERM, which db_worker
    handles by finishing its current task)."""
    env = {
        **os.environ,
        "DJANGO_SETTINGS_MODULE": "tests.worker_settings",
        "TEST_DATABASE_URL": database_url_for_workers(),
        "ORKESTAPAY_TEST_WORKER_SETTINGS": json.dumps(orkestapay),
        "ORKESTAPAY_TEST_SIGNAL_FILE": str(signal_file),
        "PYTHONPATH": str(ROOT),
    }
    command = [sys.executable, "-m", "django", "db_worker", "--interval", "0.05", "--no-startup-delay"]
    logs = [(log_dir / f"worker-{index}.log").open("w", encoding="utf-8") for index in range(count)]
    workers = [subprocess.Popen(command, cwd=ROOT, env=env, stdout=log, stderr=subprocess.STDOUT) for log in logs]
    try:
        yield
    finally:
        for worker in workers:
            worker.terminate()
        for worker in workers:
            try:
                worker.wait(timeout=20)
            except subprocess.TimeoutExpired:
                worker.kill()
                worker.wait(timeout=10)
        for log in logs:
            log.close()


def wait_until_drained(timeout: float = 120.0) -> int:
    """Wait until no task is waiting or running and no verified event is unsettled; return how many tasks ran
    successfully."""
    from django_tasks_db.models import DBTaskResult

    from django_orkestapay.models import Event, EventStatus

    deadline = time.monotonic() + timeout
    while time.monotonic() < deadline:
        unfinished = DBTaskResult.objects.filter(status__in=["READY", "RUNNING"]).exists()
        unsettled = Event.objects.filter(verified=True, status=EventStatus.RECEIVED).exists()
        if not unfinished and not unsettled:
            break
        time.sleep(0.1)
    return DBTaskResult.objects.filter(status="SUCCESSFUL").count()
