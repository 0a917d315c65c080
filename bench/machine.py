"""What every run says about the machine it ran on, so a figure from one machine can be read against another's: the
load average (1, 5 and 15 minutes) and the cores, at the start and at the end, the versions, and the **Django
floor**: a bare Django view (``GET /bench/csrf/``: the middleware of a typical shop, no database, no gateway) on
the same gunicorn the other sections use, timed one request at a time (p50) and from the same number of client
threads as the webhook runs (requests/s). A webhook rate divided by the floor's rate is what travels."""

from __future__ import annotations

import os
import platform
import threading
import time
from dataclasses import dataclass

import requests

from .common import Gunicorn, median, percentile


@dataclass(frozen=True)
class Load:
    """The load average over 1, 5 and 15 minutes, and the cores."""

    one: float
    five: float
    fifteen: float
    cpus: int

    @classmethod
    def now(cls) -> Load:
        one, five, fifteen = os.getloadavg()
        return cls(one, five, fifteen, os.cpu_count() or 1)

    def __str__(self) -> str:
        return f"{self.one:.2f}/{self.five:.2f}/{self.fifteen:.2f} (1/5/15 min) on {self.cpus} cores"

    def as_dict(self) -> dict[str, float]:
        return {"1min": self.one, "5min": self.five, "15min": self.fifteen, "cpus": self.cpus}


@dataclass(frozen=True)
class Floor:
    """A bare Django view through gunicorn: p50 and p99 one at a time, and requests/s from ``threads`` threads."""

    p50_ms: float
    p99_ms: float
    per_second: float
    threads: int
    workers: int

    def __str__(self) -> str:
        return (
            f"p50 {self.p50_ms:.2f} ms, p99 {self.p99_ms:.2f} ms one at a time; {self.per_second:.0f} requests/s from "
            f"{self.threads} threads on {self.workers} gunicorn workers"
        )

    def as_dict(self) -> dict[str, float]:
        return {
            "p50_ms": self.p50_ms,
            "p99_ms": self.p99_ms,
            "per_second": self.per_second,
            "threads": self.threads,
            "workers": self.workers,
        }


def _get(http: requests.Session, url: str) -> float:
    started = time.perf_counter()
    response = http.get(url, timeout=30)
    response.raise_for_status()
    return (time.perf_counter() - started) * 1000


def measure_floor(*, workers: int, threads: int, requests_per_measure: int = 400) -> Floor:
    """Start gunicorn (``workers`` sync workers, the bench settings), warm it up, then time the bare view."""
    with Gunicorn(workers=workers) as server:
        return floor_on(server.url, workers=workers, threads=threads, requests_per_measure=requests_per_measure)


def floor_on(server_url: str, *, workers: int, threads: int, requests_per_measure: int = 400) -> Floor:
    """Time the bare view on a running gunicorn (the queued sections' own, just before they send): 20 warm-up
    GETs, half the requests one at a time, then all of them from ``threads`` threads."""
    url = f"{server_url}/bench/csrf/"
    http = requests.Session()
    http.trust_env = False
    for _ in range(20):
        _get(http, url)
    one_at_a_time = [_get(http, url) for _ in range(requests_per_measure // 2)]
    per_thread = requests_per_measure // threads

    def client() -> None:
        session = requests.Session()
        session.trust_env = False
        for _ in range(per_thread):
            _get(session, url)

    clients = [threading.Thread(target=client) for _ in range(threads)]
    started = time.perf_counter()
    for thread in clients:
        thread.start()
    for thread in clients:
        thread.join()
    elapsed = time.perf_counter() - started
    return Floor(
        p50_ms=median(one_at_a_time),
        p99_ms=percentile(one_at_a_time, 0.99),
        per_second=per_thread * threads / elapsed,
        threads=threads,
        workers=workers,
    )


def versions() -> str:
    """Python, Django, the database server, and the task libraries present."""
    from importlib.metadata import PackageNotFoundError, version

    import django
    from django.db import connection

    parts = [f"Python {platform.python_version()}", f"Django {django.get_version()}"]
    if connection.vendor == "postgresql":
        with connection.cursor() as cursor:
            cursor.execute("SHOW server_version")
            row = cursor.fetchone()
            parts.append(f"PostgreSQL {str(row[0]).split()[0] if row else '?'}")
    for package in ("django-tasks", "django-tasks-db", "django-tasks-rq", "rq", "redis", "gunicorn"):
        try:
            parts.append(f"{package} {version(package)}")
        except PackageNotFoundError:
            continue
    return ", ".join(parts)
