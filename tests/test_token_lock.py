"""The single-flight token fetch across clients and processes sharing a cache (``client.token_cache.FetchLock``).

Each client here stands for one process of a fleet: clients share nothing but the cache. HTTP is mocked with
``responses``; ``sleep`` is injected, so the tests count fetches, polls and lock keys, never time. The same property
with real processes (gunicorn workers, Redis, PostgreSQL) is in ``tests/test_fleet.py``.
"""

from __future__ import annotations

import json
import logging
import threading
from concurrent.futures import ThreadPoolExecutor
from typing import Any, cast

import pytest
import responses

from django_orkestapay import services
from django_orkestapay.client import (
    TOKEN_LOCK_TIMEOUT,
    TOKEN_LOCK_WAIT,
    InMemoryTokenCache,
    OrkestaPayClient,
    TokenCache,
)
from django_orkestapay.exceptions import ServerError
from tests import test_client
from tests.test_client import (
    ACCESS_TOKEN,
    CLIENT_ID,
    CLIENT_SECRET,
    SECOND_TOKEN,
    TOKEN_URL,
    FakeClock,
    Sleeps,
    add_token,
    calls_to,
    token_body,
)

# test_client's fixtures, shared here (pytest finds a fixture under any module-level name that refers to it).
rsps, clock, sleeps = test_client.rsps, test_client.clock, test_client.sleeps

FLEET = 8  # clients ("processes") racing for a token on a cold cache
GATE_TIMEOUT = 10  # seconds a gate in these tests waits before giving up (only reached when the code is wrong)


def make_client(cache: Any, clock: FakeClock, sleep: Any, **options: Any) -> OrkestaPayClient:
    return OrkestaPayClient(
        client_id=CLIENT_ID, client_secret=CLIENT_SECRET, token_cache=cache, clock=clock, sleep=sleep, **options
    )


def lock_key(client: OrkestaPayClient) -> str:
    return client._tokens.fetch_lock.key


class AdvancingSleep(Sleeps):
    """Records each sleep and moves the fake clock on by it (so cache entries expire as they would)."""

    def __init__(self, clock: FakeClock) -> None:
        super().__init__()
        self.clock = clock

    def __call__(self, seconds: float) -> None:
        super().__call__(seconds)
        self.clock.now += seconds
        if len(self) > 10_000:
            raise AssertionError("the wait for the lock never ends")


class RecordingCache(InMemoryTokenCache):
    """An in-memory cache that records the operations made on it."""

    def __init__(self, clock: FakeClock) -> None:
        super().__init__(clock=clock)
        self.operations: list[str] = []

    def get(self, key: str, default: Any = None) -> Any:
        self.operations.append("get")
        return super().get(key, default)

    def add(self, key: str, value: Any, timeout: float | None = None) -> bool:
        self.operations.append("add")
        return super().add(key, value, timeout)


# ------------------------------------------------------------------------------------------------------------------
# InMemoryTokenCache.add
# ------------------------------------------------------------------------------------------------------------------


def test_in_memory_add_stores_only_when_nothing_live_is_there(clock: FakeClock) -> None:
    cache = InMemoryTokenCache(clock=clock)

    assert cache.add("k", "first", timeout=10) is True
    assert cache.add("k", "second", timeout=10) is False
    assert cache.get("k") == "first"
    clock.now += 10
    assert cache.add("k", "third", timeout=None) is True
    clock.now += 10**9
    assert cache.add("k", "fourth", timeout=10) is False
    assert cache.get("k") == "third"
    assert cache.add("zero", "x", timeout=0) is True
    assert cache.get("zero") is None


def test_in_memory_add_lets_exactly_one_of_many_threads_in(clock: FakeClock) -> None:
    cache = InMemoryTokenCache(clock=clock)
    start = threading.Barrier(16)

    def contend(index: int) -> bool:
        start.wait(timeout=GATE_TIMEOUT)
        return cache.add("lock", index, timeout=10)

    with ThreadPoolExecutor(16) as pool:
        results = list(pool.map(contend, range(16)))

    assert results.count(True) == 1
    assert cache.get("lock") == results.index(True)


# ------------------------------------------------------------------------------------------------------------------
# A fleet on a cold cache
# ------------------------------------------------------------------------------------------------------------------


class StoreSignallingCache(InMemoryTokenCache):
    """Sets ``stored`` once any token is stored, so waiting clients wake only when there is a token to read."""

    def __init__(self, clock: FakeClock) -> None:
        super().__init__(clock=clock)
        self.stored = threading.Event()

    def set(self, key: str, value: Any, timeout: float | None = None) -> None:
        super().set(key, value, timeout)
        self.stored.set()


def test_a_fleet_on_a_cold_cache_fetches_one_token(rsps: responses.RequestsMock, clock: FakeClock) -> None:
    cache = StoreSignallingCache(clock)
    waiting: set[int] = set()
    seen = threading.Condition()

    def sleep(seconds: float) -> None:
        """A waiting client's poll: note who waits, then wake when a token has been stored."""
        with seen:
            waiting.add(threading.get_ident())
            seen.notify_all()
        cache.stored.wait(timeout=GATE_TIMEOUT)

    def token_answer(request: Any) -> tuple[int, dict[str, str], str]:
        """Answer only once every other client is waiting on the lock: the race is real, not a matter of luck."""
        with seen:
            seen.wait_for(lambda: len(waiting) == FLEET - 1, timeout=GATE_TIMEOUT)
        return 200, {}, json.dumps(token_body())

    rsps.add_callback(responses.POST, TOKEN_URL, callback=token_answer)
    clients = [make_client(cache, clock, sleep) for _ in range(FLEET)]

    with ThreadPoolExecutor(FLEET) as pool:
        tokens = list(pool.map(lambda client: client.get_access_token().access_token, clients))

    assert len(waiting) == FLEET - 1
    assert len(calls_to(rsps, TOKEN_URL)) == 1
    assert tokens == [ACCESS_TOKEN] * FLEET
    assert cache.get(lock_key(clients[0])) is None  # released


def test_without_the_lock_every_client_of_a_cold_fleet_fetches_its_own(
    rsps: responses.RequestsMock, clock: FakeClock, sleeps: Sleeps
) -> None:
    """What the lock prevents (and what the test above would see without it): one token request per process."""
    cache = InMemoryTokenCache(clock=clock)
    all_asking = threading.Barrier(FLEET)

    def token_answer(request: Any) -> tuple[int, dict[str, str], str]:
        all_asking.wait(timeout=GATE_TIMEOUT)  # every client found the cache cold and asked
        return 200, {}, json.dumps(token_body())

    rsps.add_callback(responses.POST, TOKEN_URL, callback=token_answer)
    clients = [make_client(cache, clock, sleeps, token_lock_timeout=0) for _ in range(FLEET)]

    with ThreadPoolExecutor(FLEET) as pool:
        list(pool.map(lambda client: client.get_access_token(), clients))

    assert len(calls_to(rsps, TOKEN_URL)) == FLEET
    assert sleeps == []


def test_a_token_stored_just_before_the_lock_is_taken_is_used_not_fetched_again(
    rsps: responses.RequestsMock, clock: FakeClock, sleeps: Sleeps
) -> None:
    class HolderFinishesFirst(InMemoryTokenCache):
        """Another process stores its token and lets go of the lock between our cache miss and our add."""

        def add(self, key: str, value: Any, timeout: float | None = None) -> bool:
            expires_at = clock.now + 1800
            self.set(token_key, {"access_token": SECOND_TOKEN, "token_type": "Bearer", "expires_at": expires_at}, 1740)
            return super().add(key, value, timeout)

    add_token(rsps)
    cache = HolderFinishesFirst(clock=clock)
    client = make_client(cache, clock, sleeps)
    token_key = client.token_cache_key

    assert client.get_access_token().access_token == SECOND_TOKEN
    assert len(calls_to(rsps, TOKEN_URL)) == 0
    assert cache.get(lock_key(client)) is None


# ------------------------------------------------------------------------------------------------------------------
# A lock holder that died, a lock that changed hands, a failed fetch
# ------------------------------------------------------------------------------------------------------------------


def fetch_twice_behind_a_held_lock(
    rsps: responses.RequestsMock, clock: FakeClock, holder: str, held_for: float | None, **options: Any
) -> tuple[InMemoryTokenCache, OrkestaPayClient, AdvancingSleep]:
    """Another process holds the fetch lock (for ``held_for`` seconds); the client needs a token twice."""
    add_token(rsps)
    cache = InMemoryTokenCache(clock=clock)
    sleep = AdvancingSleep(clock)
    client = make_client(cache, clock, sleep, token_lock_timeout=10, **options)
    assert cache.add(lock_key(client), holder, timeout=held_for)
    for _ in range(2):
        assert client.get_access_token().access_token == ACCESS_TOKEN
    return cache, client, sleep


def test_a_dead_holders_lock_expires_and_one_waiter_takes_it_over(
    rsps: responses.RequestsMock, clock: FakeClock, caplog: pytest.LogCaptureFixture
) -> None:
    with caplog.at_level(logging.WARNING, logger="django_orkestapay.client"):
        cache, client, sleep = fetch_twice_behind_a_held_lock(
            rsps, clock, "a worker that was killed mid-fetch", 10, token_lock_wait=30
        )

    assert len(calls_to(rsps, TOKEN_URL)) == 1
    # The dead holder's 10 s, polled every 0.05 s (201: 200 x 0.05 falls a hair short of 10 in floating point),
    # not the 600 polls of the full 30 s wait.
    assert 200 <= len(sleep) <= 201
    assert cache.get(lock_key(client)) is None  # taken over under our name, then released
    assert "fetching anyway" not in caplog.text


def test_when_the_wait_runs_out_the_waiter_fetches_anyway_and_leaves_the_lock_alone(
    rsps: responses.RequestsMock, clock: FakeClock, caplog: pytest.LogCaptureFixture
) -> None:
    with caplog.at_level(logging.WARNING, logger="django_orkestapay.client"):
        cache, client, sleep = fetch_twice_behind_a_held_lock(rsps, clock, "a stuck worker", None, token_lock_wait=1)

    assert len(calls_to(rsps, TOKEN_URL)) == 1  # the second from the cache, despite the stuck lock
    assert len(sleep) == 20  # 1 s, polled every 0.05 s
    assert cache.get(lock_key(client)) == "a stuck worker"
    assert "still holds the fetch lock after 1.0 s; fetching anyway" in caplog.text


def test_a_zero_wait_fetches_at_once_when_another_holds_the_lock(
    rsps: responses.RequestsMock, clock: FakeClock, sleeps: Sleeps
) -> None:
    add_token(rsps)
    cache = InMemoryTokenCache(clock=clock)
    client = make_client(cache, clock, sleeps, token_lock_wait=0)
    assert cache.add(lock_key(client), "another process", timeout=10)

    client.get_access_token()

    assert len(calls_to(rsps, TOKEN_URL)) == 1
    assert sleeps == []


def test_the_lock_is_released_after_a_failed_fetch(rsps: responses.RequestsMock, clock: FakeClock) -> None:
    rsps.add(responses.POST, TOKEN_URL, status=503, body="<html>down</html>")
    cache = InMemoryTokenCache(clock=clock)
    client = make_client(cache, clock, Sleeps(), max_retries=0)

    with pytest.raises(ServerError):
        client.get_access_token()

    assert cache.get(lock_key(client)) is None  # the others take their turn instead of waiting out the timeout


def test_a_lock_that_changed_hands_during_the_fetch_is_not_released(
    rsps: responses.RequestsMock, clock: FakeClock, sleeps: Sleeps
) -> None:
    cache = InMemoryTokenCache(clock=clock)
    client = make_client(cache, clock, sleeps)

    def token_answer(request: Any) -> tuple[int, dict[str, str], str]:
        cache.set(lock_key(client), "the next holder", 10)  # ours expired and another process took the key
        return 200, {}, json.dumps(token_body())

    rsps.add_callback(responses.POST, TOKEN_URL, callback=token_answer)

    client.get_access_token()

    assert cache.get(lock_key(client)) == "the next holder"


def test_force_refresh_under_the_lock_fetches_a_token_other_than_the_cached_one(
    rsps: responses.RequestsMock, clock: FakeClock, sleeps: Sleeps
) -> None:
    add_token(rsps, ACCESS_TOKEN)
    add_token(rsps, SECOND_TOKEN)
    cache = RecordingCache(clock)
    client = make_client(cache, clock, sleeps)
    client.get_access_token()

    assert client.get_access_token(force_refresh=True).access_token == SECOND_TOKEN
    assert cache.operations.count("add") == 2
    assert len(calls_to(rsps, TOKEN_URL)) == 2


# ------------------------------------------------------------------------------------------------------------------
# Caches that cannot lock: today's behaviour, logged, never fatal (a cache that fails at everything: test_client.py)
# ------------------------------------------------------------------------------------------------------------------


def test_a_lock_timeout_of_zero_never_touches_the_lock(
    rsps: responses.RequestsMock, clock: FakeClock, sleeps: Sleeps
) -> None:
    add_token(rsps)
    cache = RecordingCache(clock)
    client = make_client(cache, clock, sleeps, token_lock_timeout=0)

    client.get_access_token()
    client.get_access_token()

    assert "add" not in cache.operations
    assert len(calls_to(rsps, TOKEN_URL)) == 1


def test_a_cache_without_add_still_caches_the_token_and_says_so_once(
    rsps: responses.RequestsMock, clock: FakeClock, sleeps: Sleeps, caplog: pytest.LogCaptureFixture
) -> None:
    class NoAddCache:
        def __init__(self) -> None:
            self.inner = InMemoryTokenCache(clock=clock)

        def get(self, key: str, default: Any = None) -> Any:
            return self.inner.get(key, default)

        def set(self, key: str, value: Any, timeout: float | None = None) -> None:
            self.inner.set(key, value, timeout)

        def delete(self, key: str) -> Any:
            return self.inner.delete(key)

    add_token(rsps)
    with caplog.at_level(logging.WARNING, logger="django_orkestapay.client"):
        client = make_client(cast(TokenCache, NoAddCache()), clock, sleeps)
        client.get_access_token()
        client.get_access_token()

    assert len(calls_to(rsps, TOKEN_URL)) == 1
    assert sleeps == []
    assert caplog.text.count("has no add()") == 1
    assert not client._tokens.fetch_lock.enabled


def test_a_cache_whose_add_fails_still_shares_the_token(
    rsps: responses.RequestsMock, clock: FakeClock, sleeps: Sleeps
) -> None:
    class AddFails(InMemoryTokenCache):
        def add(self, key: str, value: Any, timeout: float | None = None) -> bool:
            raise TimeoutError("cache busy")

    add_token(rsps)
    cache = AddFails(clock=clock)
    first, second = make_client(cache, clock, sleeps), make_client(cache, clock, sleeps)

    first.get_access_token()
    second.get_access_token()

    assert len(calls_to(rsps, TOKEN_URL)) == 1
    assert sleeps == []


# ------------------------------------------------------------------------------------------------------------------
# Settings
# ------------------------------------------------------------------------------------------------------------------


def test_the_client_validates_and_exposes_the_lock_timings() -> None:
    default = OrkestaPayClient(client_id=CLIENT_ID, client_secret=CLIENT_SECRET)
    assert (default.token_lock_timeout, default.token_lock_wait) == (TOKEN_LOCK_TIMEOUT, TOKEN_LOCK_WAIT)
    with pytest.raises(ValueError, match="token_lock_timeout and token_lock_wait must not be negative"):
        OrkestaPayClient(client_id=CLIENT_ID, client_secret=CLIENT_SECRET, token_lock_timeout=-1)
    with pytest.raises(ValueError, match="token_lock_timeout and token_lock_wait must not be negative"):
        OrkestaPayClient(client_id=CLIENT_ID, client_secret=CLIENT_SECRET, token_lock_wait=-0.5)


def test_get_client_takes_the_lock_timings_from_the_settings(settings: Any) -> None:
    settings.ORKESTAPAY = {"CLIENT_ID": "id", "CLIENT_SECRET": "secret", "TOKEN_LOCK_TIMEOUT": 3, "TOKEN_LOCK_WAIT": 2}
    client = services.get_client()
    assert (client.token_lock_timeout, client.token_lock_wait) == (3.0, 2.0)

    settings.ORKESTAPAY = {"CLIENT_ID": "id", "CLIENT_SECRET": "secret", "TOKEN_LOCK_TIMEOUT": 0}
    assert not services.get_client()._tokens.fetch_lock.enabled
