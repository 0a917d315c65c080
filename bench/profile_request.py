"""Where one request's time goes: the pay view and the completed return called in this process through Django's
WSGI handler (the same code path gunicorn's workers run, minus HTTP parsing), first timed, then under cProfile.

The fake answers at once here, so the gateway part is the loopback round trip plus the fake's own work. The timed
pass (no profiler) measures the two waits directly: the gateway calls (``requests.Session.send``) and the SQL
statements (an execute wrapper, plus COMMIT/ROLLBACK); the rest is Django and our Python. The profiled pass books
every function's own time (tottime) to an area (our package, psycopg, Django's ORM, ...), averaged per request;
cProfile slows Python code down, so read those as shares and the plain timings as the real cost.
"""

from __future__ import annotations

import cProfile
import functools
import io
import pstats
import sys
import time
from collections.abc import Callable, Iterable, Iterator
from contextlib import contextmanager
from dataclasses import dataclass, field
from http.cookies import SimpleCookie
from typing import Any
from urllib.parse import urlencode, urlsplit

import requests

from django_orkestapay.testing import FakeOrkestaPay

from .common import gateway_checkout_id, make_order, median, pay_form, timed_ms

#: Where a function's own time (tottime) is booked: the first area whose marker is in its file name.
AREAS: tuple[tuple[str, tuple[str, ...]], ...] = (
    ("our package (django_orkestapay)", ("/django_orkestapay/",)),
    ("psycopg (PostgreSQL driver)", ("/psycopg/",)),
    ("Django ORM and DB layer", ("/django/db/",)),
    ("Django templates", ("/django/template/",)),
    ("Django other: handlers, middleware, URLs, HTTP", ("/django/",)),
    ("requests, urllib3, http.client", ("/requests/", "/urllib3/", "/http/client.py")),
    ("C calls: sockets (waits), hashing, JSON...", ("~",)),
)
OTHER = "other Python (stdlib...)"

Environ = dict[str, Any]


class InProcessShop:
    """Calls the bench site's WSGI application directly."""

    def __init__(self) -> None:
        from django.core.handlers.wsgi import WSGIHandler

        self.app = WSGIHandler()
        _status, headers, body = self.call("GET", "/bench/csrf/")
        cookie: SimpleCookie = SimpleCookie()
        for name, value in headers:
            if name.lower() == "set-cookie":
                cookie.load(value)
        self.csrf_cookie = cookie["csrftoken"].value
        self.csrf_token = body.decode()

    def call(
        self, method: str, path: str, query: str = "", body: bytes = b"", content_type: str = "", cookies: str = ""
    ) -> tuple[str, list[tuple[str, str]], bytes]:
        environ: Environ = {
            "REQUEST_METHOD": method,
            "SCRIPT_NAME": "",
            "PATH_INFO": path,
            "QUERY_STRING": query,
            "SERVER_NAME": "127.0.0.1",
            "SERVER_PORT": "8000",
            "SERVER_PROTOCOL": "HTTP/1.1",
            "HTTP_HOST": "127.0.0.1:8000",
            "REMOTE_ADDR": "127.0.0.1",
            "CONTENT_TYPE": content_type,
            "CONTENT_LENGTH": str(len(body)),
            "HTTP_COOKIE": cookies,
            "wsgi.version": (1, 0),
            "wsgi.url_scheme": "http",
            "wsgi.input": io.BytesIO(body),
            "wsgi.errors": sys.stderr,
            "wsgi.multithread": False,
            "wsgi.multiprocess": True,
            "wsgi.run_once": False,
        }
        started: dict[str, Any] = {}

        def start_response(
            status: str, headers: list[tuple[str, str]], exc_info: Any = None
        ) -> Callable[[bytes], object]:
            started["status"], started["headers"] = status, headers
            return lambda data: None

        response = self.app(environ, start_response)
        try:
            content = b"".join(response)
        finally:
            response.close()  # request_finished: closes or keeps the database connection
        return started["status"], started["headers"], content

    def pay(self, form: dict[str, str]) -> None:
        body = urlencode({**form, "csrfmiddlewaretoken": self.csrf_token}).encode()
        status, _, content = self.call(
            "POST",
            "/orkestapay/pay/",
            body=body,
            content_type="application/x-www-form-urlencoded",
            cookies=f"csrftoken={self.csrf_cookie}",
        )
        if not status.startswith("302"):
            raise RuntimeError(f"pay answered {status}: {content[:300]!r}")

    def completed(self, url: str) -> None:
        parts = urlsplit(url)
        status, _, content = self.call("GET", parts.path, query=parts.query)
        if not status.startswith(("200", "302")):
            raise RuntimeError(f"completed answered {status}: {content[:300]!r}")


@dataclass
class Waits:
    """Time spent waiting on the gateway and on the database, summed over the requests timed."""

    http_s: float = 0.0
    http_calls: int = 0
    sql_s: float = 0.0
    sql_statements: int = 0


@contextmanager
def measured_waits() -> Iterator[Waits]:
    """Time every gateway call and every SQL statement (COMMIT and ROLLBACK included) made in this thread."""
    from django.db import connection

    waits = Waits()
    original_send = requests.Session.send

    def timed_send(session: requests.Session, request: requests.PreparedRequest, **kwargs: Any) -> requests.Response:
        started = time.perf_counter()
        try:
            return original_send(session, request, **kwargs)
        finally:
            waits.http_s += time.perf_counter() - started
            waits.http_calls += 1

    def timed_execute(execute: Callable[..., Any], sql: str, params: Any, many: bool, context: Any) -> Any:
        started = time.perf_counter()
        try:
            return execute(sql, params, many, context)
        finally:
            waits.sql_s += time.perf_counter() - started
            waits.sql_statements += 1

    def timed(method: Callable[[], None]) -> Callable[[], None]:
        def call() -> None:
            started = time.perf_counter()
            try:
                method()
            finally:
                waits.sql_s += time.perf_counter() - started
                waits.sql_statements += 1

        return call

    database: Any = connection  # _commit and _rollback are the backend's private hooks (not in the stubs)
    session_class: Any = requests.Session
    session_class.send = timed_send
    database._commit = timed(database._commit)
    database._rollback = timed(database._rollback)
    try:
        with connection.execute_wrapper(timed_execute):
            yield waits
    finally:
        session_class.send = original_send
        del database._commit, database._rollback  # the class's methods show through again


@dataclass
class Profiled:
    """Per-request figures for one view."""

    name: str
    requests: int
    wall_ms: float  # median wall time per request without the profiler
    wall_mean_ms: float  # mean of the same
    waits: Waits = field(default_factory=Waits)  # summed over the timed requests (no profiler)
    buckets_ms: dict[str, float] = field(default_factory=dict)  # own time per area, ms per request, profiled
    profiled_ms: float = 0.0  # mean per request, under the profiler
    top_own: list[tuple[str, float, int]] = field(default_factory=list)  # (function, cumulative ms/request, calls)

    @property
    def http_ms(self) -> float:
        """Mean time per request waiting on the gateway (no profiler)."""
        return self.waits.http_s * 1000 / self.requests

    @property
    def sql_ms(self) -> float:
        """Mean time per request in SQL statements (no profiler)."""
        return self.waits.sql_s * 1000 / self.requests

    @property
    def rest_ms(self) -> float:
        """Mean time per request in everything else: Django, middleware, ORM and our Python."""
        return self.wall_mean_ms - self.http_ms - self.sql_ms


def _summarise(
    name: str, profile: cProfile.Profile, requests: int, walls_ms: list[float], waits: Waits, total_s: float
) -> Profiled:
    stats: dict[tuple[str, int, str], tuple[int, int, float, float, Any]] = pstats.Stats(profile).stats  # type: ignore[attr-defined]
    result = Profiled(
        name=name,
        requests=requests,
        wall_ms=median(walls_ms),
        wall_mean_ms=sum(walls_ms) / len(walls_ms),
        waits=waits,
        profiled_ms=total_s * 1000 / requests,
    )
    for label, _markers in AREAS:
        result.buckets_ms[label] = 0.0
    result.buckets_ms[OTHER] = 0.0
    for (filename, _line, _function), (_cc, _nc, own_s, _cumulative, _callers) in stats.items():
        path = filename.replace("\\", "/")
        area = next((label for label, markers in AREAS if any(m in path for m in markers)), OTHER)
        result.buckets_ms[area] += own_s * 1000 / requests
    own = [
        (f"{filename.rsplit('django_orkestapay/', 1)[-1]}:{function}", cumulative * 1000 / requests, calls // requests)
        for (filename, _line, function), (_cc, calls, _tt, cumulative, _callers) in stats.items()
        if "django_orkestapay/" in filename.replace("\\", "/") and "/testing/" not in filename.replace("\\", "/")
    ]
    result.top_own = sorted(own, key=lambda item: -item[1])[:8]
    return result


def _profile_calls(calls: Iterable[Callable[[], None]]) -> tuple[cProfile.Profile, float, int]:
    profile = cProfile.Profile()
    total = 0.0
    count = 0
    for call in calls:
        elapsed, _ = timed_ms(profile.runcall, call)
        total += elapsed / 1000
        count += 1
    return profile, total, count


def measure(fake: FakeOrkestaPay, *, requests: int = 30, dump_prefix: str | None = None) -> list[Profiled]:
    """Time, then profile, ``requests`` pay requests and ``requests`` completed returns (after a warm-up)."""
    from django_orkestapay.models import Checkout

    fake.latency = 0.0
    shop = InProcessShop()

    def paid_urls(order_ids: list[str]) -> list[str]:
        checkouts = Checkout.objects.filter(order_id__in=order_ids)
        return [fake.pay(gateway_checkout_id(c)) for c in checkouts]

    warm = [str(make_order(i).pk) for i in range(5)]
    for order_id in warm:
        shop.pay(pay_form(order_id))
    for url in paid_urls(warm):
        shop.completed(url)

    timed_ids = [str(make_order(i).pk) for i in range(requests)]
    timed_forms = [pay_form(order_id) for order_id in timed_ids]  # signed when the button renders, not on pay
    with measured_waits() as pay_waits:
        pay_walls = [timed_ms(shop.pay, form)[0] for form in timed_forms]
    urls = paid_urls(timed_ids)
    with measured_waits() as completed_waits:
        completed_walls = [timed_ms(shop.completed, url)[0] for url in urls]

    profiled_ids = [str(make_order(i).pk) for i in range(requests)]
    profiled_forms = [pay_form(order_id) for order_id in profiled_ids]
    pay_profile, pay_total, pay_count = _profile_calls(functools.partial(shop.pay, f) for f in profiled_forms)
    urls = paid_urls(profiled_ids)
    done_profile, done_total, done_count = _profile_calls(functools.partial(shop.completed, u) for u in urls)
    if dump_prefix:
        pay_profile.dump_stats(f"{dump_prefix}-pay.prof")
        done_profile.dump_stats(f"{dump_prefix}-completed.prof")
    return [
        _summarise("pay", pay_profile, pay_count, pay_walls, pay_waits, pay_total),
        _summarise("completed", done_profile, done_count, completed_walls, completed_waits, done_total),
    ]
