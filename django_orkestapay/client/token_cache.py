"""Where the access token is kept: the cache protocol, the in-memory cache, a guard that makes cache failures harmless,
and the cross-process lock that lets one process of a fleet fetch the token while the others wait for it.

:class:`TokenCache` is the part of a cache the client needs (Django's caches satisfy it). :class:`GuardedCache`
wraps one so that a broken cache (Redis down, a cache without ``add``) is logged and treated as a miss, never as an
error. :class:`FetchLock` is a lock key taken with the cache's atomic ``add``: the process that takes it fetches
the token and stores it, the others poll the cache for that token; a lock whose holder died expires after its
timeout, and a wait that runs out ends in a fetch anyway. Nothing here imports Django.
"""

from __future__ import annotations

import copy
import logging
import math
import threading
import time
import uuid
from collections.abc import Callable, Iterator
from contextlib import contextmanager
from typing import Any, Protocol, TypeVar

__all__ = [
    "TOKEN_LOCK_POLL_INTERVAL",
    "TOKEN_LOCK_TIMEOUT",
    "TOKEN_LOCK_WAIT",
    "FetchLock",
    "GuardedCache",
    "InMemoryTokenCache",
    "TokenCache",
]

# One logger for the whole client package, named as it was when the client was a single module.
logger = logging.getLogger("django_orkestapay.client")

#: Seconds the fetch lock lives in the cache: how long a holder that died keeps the others waiting.
TOKEN_LOCK_TIMEOUT = 10.0
#: Seconds a process waits for another process's token before it fetches one itself.
TOKEN_LOCK_WAIT = 10.0
#: Seconds between two looks into the cache while waiting.
TOKEN_LOCK_POLL_INTERVAL = 0.05

_T = TypeVar("_T")


class TokenCache(Protocol):
    """The part of a cache the client needs; Django's ``django.core.cache.cache`` satisfies it."""

    def get(self, key: str, default: Any = None) -> Any:
        """Return the value stored under ``key``, or ``default``."""
        ...

    def set(self, key: str, value: Any, timeout: float | None = ...) -> None:
        """Store ``value`` under ``key`` for ``timeout`` seconds."""
        ...

    def add(self, key: str, value: Any, timeout: float | None = ...) -> bool:
        """Store ``value`` under ``key`` unless a live value is there; return whether it did.

        The fetch lock relies on this being atomic for every process sharing the cache (it is in Redis, Memcached
        and, within one process, Django's local-memory cache). A cache without ``add`` still works: every process
        then fetches its own token on a cold cache.
        """
        ...

    def delete(self, key: str) -> Any:
        """Forget ``key``."""
        ...


class InMemoryTokenCache:
    """A thread-safe, per-process :class:`TokenCache` for use without Django.

    ``timeout`` follows Django's rules: ``None`` keeps the value forever, ``0`` or less does not store it. Values are
    deep-copied in and out, so callers never share mutable state with the cache.
    """

    def __init__(self, *, clock: Callable[[], float] = time.time) -> None:
        self._clock = clock
        self._lock = threading.Lock()
        self._entries: dict[str, tuple[Any, float | None]] = {}

    def get(self, key: str, default: Any = None) -> Any:
        """Return the unexpired value under ``key``, or ``default``."""
        with self._lock:
            if not self._live(key):
                return default
            return copy.deepcopy(self._entries[key][0])

    def set(self, key: str, value: Any, timeout: float | None = None) -> None:
        """Store ``value`` under ``key`` for ``timeout`` seconds (``None``: forever)."""
        with self._lock:
            self._store(key, value, timeout)

    def add(self, key: str, value: Any, timeout: float | None = None) -> bool:
        """Store ``value`` under ``key`` unless an unexpired value is there; return whether it did (atomically)."""
        with self._lock:
            if self._live(key):
                return False
            self._store(key, value, timeout)
            return True

    def delete(self, key: str) -> bool:
        """Forget ``key``; return whether it was there."""
        with self._lock:
            return self._entries.pop(key, None) is not None

    def clear(self) -> None:
        """Forget everything."""
        with self._lock:
            self._entries.clear()

    def _live(self, key: str) -> bool:
        """Whether ``key`` holds an unexpired value (an expired one is dropped). Call with the lock held."""
        entry = self._entries.get(key)
        if entry is None:
            return False
        expires_at = entry[1]
        if expires_at is not None and self._clock() >= expires_at:
            del self._entries[key]
            return False
        return True

    def _store(self, key: str, value: Any, timeout: float | None) -> None:
        """Store a copy of ``value`` (or drop ``key`` for a timeout of 0 or less). Call with the lock held."""
        if timeout is not None and timeout <= 0:
            self._entries.pop(key, None)
            return
        expires_at = None if timeout is None else self._clock() + timeout
        self._entries[key] = (copy.deepcopy(value), expires_at)


class GuardedCache:
    """A :class:`TokenCache` whose failures are logged and read as misses: a broken cache never breaks a payment.

    ``can_add`` says whether the cache has an ``add`` at all (a cache without one is logged once, here).
    """

    def __init__(self, cache: TokenCache) -> None:
        self.cache = cache
        self.can_add = callable(getattr(cache, "add", None))
        if not self.can_add:
            logger.warning(
                "OrkestaPay token cache %s has no add(); without it every process fetches its own token on a cold "
                "cache",
                type(cache).__name__,
            )

    def get(self, key: str) -> Any:
        """The value under ``key``; ``None`` when absent or when the cache failed."""
        return self._call("get", key)

    def set(self, key: str, value: Any, timeout: float) -> None:
        """Store ``value``; a failure is logged and forgotten."""
        self._call("set", key, value, timeout)

    def add(self, key: str, value: Any, timeout: float) -> bool | None:
        """``True`` if stored, ``False`` if ``key`` is taken, ``None`` if unknown (no ``add``, or it failed)."""
        if not self.can_add:
            return None
        result = self._call("add", key, value, timeout)
        return result if isinstance(result, bool) else None

    def delete(self, key: str) -> None:
        """Forget ``key``; a failure is logged and forgotten."""
        self._call("delete", key)

    def _call(self, operation: str, *args: Any) -> Any:
        try:
            return getattr(self.cache, operation)(*args)
        except Exception as exc:  # noqa: BLE001 - any cache backend error is a cache miss
            logger.warning(
                "OrkestaPay token cache %s failed (%s); continuing without it", operation, type(exc).__name__
            )
            return None


class FetchLock:
    """The fleet's lock around one token fetch: a key in the shared cache, taken with its atomic ``add``.

    ``timeout`` is how long the key lives (caches such as Redis count whole seconds, so it is rounded up; 0 turns
    the lock off), ``wait`` how long a process waits for the holder's token, looking into the cache every
    ``poll_interval`` seconds (``clock`` and ``sleep`` are injectable for tests). Use :meth:`turn` around a fetch.
    """

    def __init__(
        self,
        cache: GuardedCache,
        key: str,
        *,
        timeout: float = TOKEN_LOCK_TIMEOUT,
        wait: float = TOKEN_LOCK_WAIT,
        poll_interval: float = TOKEN_LOCK_POLL_INTERVAL,
        clock: Callable[[], float] = time.monotonic,
        sleep: Callable[[float], None] = time.sleep,
    ) -> None:
        if timeout < 0 or wait < 0 or poll_interval <= 0:
            raise ValueError("the token lock's timeout and wait must not be negative, its poll interval positive")
        self._cache = cache
        self.key = key
        self.timeout = timeout
        self.wait = wait
        self.poll_interval = poll_interval
        self._clock = clock
        self._sleep = sleep

    @property
    def enabled(self) -> bool:
        """Whether fetches go through the lock (a timeout above 0 and a cache with ``add``)."""
        return self.timeout > 0 and self._cache.can_add

    @contextmanager
    def turn(self, stored_token: Callable[[], _T | None]) -> Iterator[_T | None]:
        """Wait for this process's turn to fetch; release the lock, if taken, on exit.

        Yields the token another process stored meanwhile (read with ``stored_token``), or ``None`` when the caller
        must fetch now: it holds the lock, or there is no usable lock (turned off, a cache without ``add`` or a
        broken one), or the wait ran out while another process still held the lock.
        """
        owner = uuid.uuid4().hex
        held, token = self._take_or_wait(owner, stored_token) if self.enabled else (False, None)
        try:
            yield token
        finally:
            if held:
                self._release(owner)

    def _take_or_wait(self, owner: str, stored_token: Callable[[], _T | None]) -> tuple[bool, _T | None]:
        deadline = self._clock() + self.wait
        polls_left = math.ceil(self.wait / self.poll_interval)
        while True:
            taken = self._cache.add(self.key, owner, math.ceil(self.timeout))
            if taken is None:
                return False, None  # no lock to be had (logged by the guard): fetch as without one
            if taken:
                # A holder may have stored its token and let go just before we took the lock: use that token.
                return True, stored_token()
            if polls_left <= 0 or self._clock() >= deadline:
                logger.warning(
                    "OrkestaPay token: another process still holds the fetch lock after %.1f s; fetching anyway",
                    self.wait,
                )
                return False, None
            polls_left -= 1
            self._sleep(self.poll_interval)
            token = stored_token()
            if token is not None:
                return False, token

    def _release(self, owner: str) -> None:
        """Delete the lock key if it is still ours (it may have expired and been taken by another process).

        Reading then deleting is not atomic: in the rare case the key changes hands in between, the new holder's
        lock is lost and one more token may be fetched, which is harmless.
        """
        if self._cache.get(self.key) == owner:
            self._cache.delete(self.key)
