"""The fleet's token count: gunicorn workers sharing Django's RedisCache, on a cold cache, PostgreSQL behind them.

One run starts ``workers`` fresh gunicorn workers (``bench.settings`` with ``BENCH_REDIS_URL``) whose cache is a new
key prefix in Redis, so the cache is cold and nothing of an earlier run is seen. It creates ``checkouts`` orders and
posts the pay form (CSRF cookie and token, as the button does) for all of them at once, one thread each.

To make the race real rather than a matter of luck, the fake gateway holds its answer to the token request (an
``on_request`` hook, which runs before the answer is sent) until every worker has looked for the token in Redis:
each worker names its Redis connection ``<prefix>-<pid>``, and the run waits until ``workers`` such connections
have run a command of their own. Until the token answer is released no token can be in the cache, so every worker
has met the cold cache while the first fetch was in flight. With the fetch lock the other workers are then waiting
for that token and the gateway sees 1 token request; with ``TOKEN_LOCK_TIMEOUT = 0`` each worker has already asked
for its own, so it sees ``workers``. Counts come from the fake's request log and the database.
"""

from __future__ import annotations

import threading
import time
import uuid
from collections import Counter
from collections.abc import Callable
from concurrent.futures import ThreadPoolExecutor
from dataclasses import dataclass
from typing import TYPE_CHECKING, Any, cast

import redis
from django.conf import settings

from django_orkestapay.client import AUTH_PATH
from django_orkestapay.testing import FakeOrkestaPay, RecordedRequest

from .common import Gunicorn, PayButton, make_order

if TYPE_CHECKING:
    from django_orkestapay.models import Order

HOLD_LIMIT = 30.0  # seconds the token answer is held at most while waiting for every worker to reach the cache
HEADERS = (
    "fetch lock",
    "workers",
    "answered 302",
    "checkouts created",
    "token requests",
    "every worker met the cold cache",
    "seconds",
    "checkouts/s",
)
NOTE = (
    "The fake holds its token answers until every worker has looked for the token in Redis, so each one\n"
    "meets the cold cache during the first fetch. seconds: first POST to last answer, that hold included.\n"
)


@dataclass(frozen=True)
class FleetResult:
    """One run's counts."""

    single_flight: bool
    workers: int
    checkouts: int
    answers: Counter[int | str]
    created: int
    token_requests: int
    every_worker_met_the_cold_cache: bool
    elapsed_s: float

    @property
    def per_second(self) -> float:
        return self.checkouts / self.elapsed_s if self.elapsed_s else 0.0

    @property
    def all_redirected(self) -> bool:
        return self.answers == Counter({302: self.checkouts}) and self.created == self.checkouts


class TokenAnswerHold:
    """A fake-gateway ``on_request`` hook that holds every token answer until :meth:`release` (or ``limit``)."""

    def __init__(self, limit: float = HOLD_LIMIT) -> None:
        self.limit = limit
        self.held = 0
        self._lock = threading.Lock()
        self._released = threading.Event()

    def __call__(self, record: RecordedRequest) -> None:
        if record.method != "POST" or record.path != AUTH_PATH:
            return
        with self._lock:
            self.held += 1
        self._released.wait(self.limit)

    def release(self) -> None:
        self._released.set()


def workers_in_the_cache(redis_url: str, prefix: str) -> int:
    """How many workers of this run have run a command of their own in Redis (not just named their connection)."""
    with redis.Redis.from_url(redis_url) as connection:
        clients = cast(list[dict[str, Any]], connection.client_list())
    return len(
        {
            client["name"]
            for client in clients
            if str(client.get("name", "")).startswith(f"{prefix}-")
            and not str(client.get("cmd", "")).startswith(("client", "hello"))
        }
    )


def _wait_for(condition: Callable[[], bool], limit: float) -> bool:
    deadline = time.monotonic() + limit
    while time.monotonic() < deadline:
        if condition():
            return True
        time.sleep(0.02)
    return condition()


def _pay(button: PayButton, order: Order) -> int | str:
    try:
        return button.post(order).status_code
    except Exception as exc:  # noqa: BLE001 - counted, not raised: the run reports every answer
        return type(exc).__name__


def rows(results: list[FleetResult]) -> list[list[object]]:
    """Table rows, one per run (see :data:`HEADERS`)."""
    return [
        [
            "on (default)" if r.single_flight else "off (TOKEN_LOCK_TIMEOUT = 0)",
            r.workers,
            f"{r.answers[302]}/{r.checkouts}",
            r.created,
            r.token_requests,
            "yes" if r.every_worker_met_the_cold_cache else "NO",
            f"{r.elapsed_s:.2f}",
            f"{r.per_second:.1f}",
        ]
        for r in results
    ]


def run(
    fake: FakeOrkestaPay,
    *,
    database_url: str,
    redis_url: str,
    workers: int = 4,
    checkouts: int = 200,
    single_flight: bool = True,
) -> FleetResult:
    """One fleet run on a cold cache; see the module's docstring."""
    from django_orkestapay.models import Checkout

    prefix = f"orkestapay-fleet-{uuid.uuid4().hex[:12]}"
    env = {
        "DJANGO_SETTINGS_MODULE": "bench.settings",
        "BENCH_DATABASE_URL": database_url,
        "BENCH_GATEWAY_URL": fake.base_url,
        "BENCH_REDIS_URL": redis_url,
        "BENCH_CACHE_PREFIX": prefix,
        "BENCH_TOKEN_LOCK_TIMEOUT": "" if single_flight else "0",
        "BENCH_SECRET_KEY": settings.SECRET_KEY,  # the pay references signed here must verify there
    }
    orders = [make_order(index) for index in range(checkouts)]
    tokens_before = fake.count_requests("POST", AUTH_PATH)
    hold = TokenAnswerHold()
    previous_hook = fake.on_request
    with Gunicorn(workers=workers, env=env) as server:
        button = PayButton(server.url)
        fake.on_request = hold
        try:
            started = time.perf_counter()
            with ThreadPoolExecutor(checkouts, thread_name_prefix="fleet-buyer") as pool:
                answers = [pool.submit(_pay, button, order) for order in orders]
                met = _wait_for(
                    lambda: hold.held >= 1 and workers_in_the_cache(redis_url, prefix) >= workers, HOLD_LIMIT
                )
                hold.release()
                counted: Counter[int | str] = Counter(answer.result() for answer in answers)
            elapsed = time.perf_counter() - started
        finally:
            hold.release()
            fake.on_request = previous_hook
    return FleetResult(
        single_flight=single_flight,
        workers=workers,
        checkouts=checkouts,
        answers=counted,
        created=Checkout.objects.filter(order__in=orders).count(),
        token_requests=fake.count_requests("POST", AUTH_PATH) - tokens_before,
        every_worker_met_the_cold_cache=met,
        elapsed_s=elapsed,
    )
