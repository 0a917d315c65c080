"""The OrkestaPay client's access token: cache hook, lock, fetch, discard and the refresh on a 401.

:class:`TokenManager` fetches the OAuth2 client-credentials token (``POST /v1/oauth/tokens``), keeps it in a
:class:`TokenCache` under :func:`token_cache_key` until ``token_leeway`` seconds before it expires, takes a lock so one
thread fetches while the others wait, and sends authorised calls: when OrkestaPay answers one with 401 it discards the
refused token, gets a fresh one and makes the call once more. :class:`InMemoryTokenCache` is the per-process default;
the service layer passes Django's cache in instead (it satisfies the protocol), so nothing here imports Django. A
broken cache is logged and treated as a miss.
"""

from __future__ import annotations

import copy
import hashlib
import json
import logging
import threading
import time
from collections.abc import Callable, Mapping
from dataclasses import dataclass, field
from typing import Any, Protocol

from ..exceptions import AuthenticationError, MalformedResponseError
from .results import _to_decimal, encode_json
from .transport import AUTH_PATH, Transport, _Response

__all__ = ["AccessToken", "InMemoryTokenCache", "TokenCache", "TokenManager", "token_cache_key"]

# One logger for the whole client package, named as it was when the client was a single module.
logger = logging.getLogger("django_orkestapay.client")


class TokenCache(Protocol):
    """The part of a cache the client needs; Django's ``django.core.cache.cache`` satisfies it."""

    def get(self, key: str, default: Any = None) -> Any:
        """Return the value stored under ``key``, or ``default``."""
        ...

    def set(self, key: str, value: Any, timeout: float | None = ...) -> None:
        """Store ``value`` under ``key`` for ``timeout`` seconds."""
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
            entry = self._entries.get(key)
            if entry is None:
                return default
            value, expires_at = entry
            if expires_at is not None and self._clock() >= expires_at:
                del self._entries[key]
                return default
            return copy.deepcopy(value)

    def set(self, key: str, value: Any, timeout: float | None = None) -> None:
        """Store ``value`` under ``key`` for ``timeout`` seconds (``None``: forever)."""
        with self._lock:
            if timeout is not None and timeout <= 0:
                self._entries.pop(key, None)
                return
            expires_at = None if timeout is None else self._clock() + timeout
            self._entries[key] = (copy.deepcopy(value), expires_at)

    def delete(self, key: str) -> bool:
        """Forget ``key``; return whether it was there."""
        with self._lock:
            return self._entries.pop(key, None) is not None

    def clear(self) -> None:
        """Forget everything."""
        with self._lock:
            self._entries.clear()


@dataclass(frozen=True)
class AccessToken:
    """An OAuth2 access token and the epoch second it expires at. The token never shows in ``repr()``."""

    access_token: str = field(repr=False)
    token_type: str
    expires_at: float

    def is_usable(self, now: float, leeway: float) -> bool:
        """Whether the token is still valid ``leeway`` seconds from ``now``."""
        return now < self.expires_at - leeway


def token_cache_key(base_url: str, client_id: str, client_secret: str) -> str:
    """The cache key of a token: per environment and credentials, without revealing the secret."""
    material = json.dumps([base_url.rstrip("/"), client_id, client_secret]).encode("utf-8")
    return "orkestapay:token:" + hashlib.sha256(material).hexdigest()[:40]


class TokenManager:
    """Gets, caches and refreshes the access token of one set of credentials, and sends calls that carry it.

    ``clock`` gives the epoch second used for expiry (injectable for tests).
    """

    def __init__(
        self,
        *,
        transport: Transport,
        client_id: str,
        client_secret: str,
        token_cache: TokenCache,
        token_leeway: float,
        clock: Callable[[], float],
    ) -> None:
        self._transport = transport
        self.client_id = client_id
        self._client_secret = client_secret
        self.token_leeway = token_leeway
        self.token_cache_key = token_cache_key(transport.base_url, client_id, client_secret)
        self._token_cache = token_cache
        self._clock = clock
        self._token_lock = threading.Lock()

    def get_access_token(self, *, force_refresh: bool = False) -> AccessToken:
        """Return a usable access token, from the cache when possible (``POST /v1/oauth/tokens`` otherwise)."""
        if not force_refresh:
            cached = self._cached_token()
            if cached is not None:
                return cached
        with self._token_lock:
            if not force_refresh:
                cached = self._cached_token()
                if cached is not None:
                    return cached
            return self._fetch_token()

    def _cached_token(self) -> AccessToken | None:
        value = self._cache_call("get", self.token_cache_key)
        if not isinstance(value, dict):
            return None
        access_token = value.get("access_token")
        token_type = value.get("token_type")
        expires_at = value.get("expires_at")
        if (
            not isinstance(access_token, str)
            or not access_token
            or not isinstance(token_type, str)
            or not isinstance(expires_at, (int, float))
            or isinstance(expires_at, bool)
        ):
            return None
        token = AccessToken(access_token=access_token, token_type=token_type, expires_at=float(expires_at))
        return token if token.is_usable(self._clock(), self.token_leeway) else None

    def _fetch_token(self) -> AccessToken:
        obtained_at = self._clock()
        body = encode_json(
            {"client_id": self.client_id, "client_secret": self._client_secret, "grant_type": "client_credentials"}
        )
        response = self._transport.send("POST", AUTH_PATH, body=body, token=None, retry=True)
        data = response.data
        access_token = data.get("access_token")
        if not isinstance(access_token, str) or not access_token.strip():
            raise MalformedResponseError(
                "OrkestaPay's token response has no access_token",
                status_code=response.status_code,
                method="POST",
                path=AUTH_PATH,
            )
        expires_in = _to_decimal(data.get("expires_in"), "expires_in", strict=False)
        if expires_in is None or expires_in <= 0:
            raise MalformedResponseError(
                "OrkestaPay's token response has no usable expires_in",
                status_code=response.status_code,
                method="POST",
                path=AUTH_PATH,
            )
        token_type = data.get("token_type")
        token = AccessToken(
            access_token=access_token,
            token_type=token_type if isinstance(token_type, str) and token_type else "Bearer",
            expires_at=obtained_at + float(expires_in),
        )
        timeout = float(expires_in) - self.token_leeway
        if timeout > 0:
            value = {"access_token": token.access_token, "token_type": token.token_type, "expires_at": token.expires_at}
            self._cache_call("set", self.token_cache_key, value, timeout)
        return token

    def _discard_token(self, token: AccessToken) -> None:
        """Forget ``token`` if the cache still holds it (another process may already have replaced it)."""
        with self._token_lock:
            value = self._cache_call("get", self.token_cache_key)
            if not isinstance(value, dict) or value.get("access_token") == token.access_token:
                self._cache_call("delete", self.token_cache_key)

    def _cache_call(self, operation: str, *args: Any) -> Any:
        """Use the token cache; a broken cache (say Redis down) is logged and treated as a miss."""
        try:
            return getattr(self._token_cache, operation)(*args)
        except Exception as exc:  # noqa: BLE001 - any cache backend error is a cache miss
            logger.warning(
                "OrkestaPay token cache %s failed (%s); continuing without it", operation, type(exc).__name__
            )
            return None

    def send_authorised(
        self,
        method: str,
        path: str,
        *,
        body: bytes | None,
        retry: bool,
        extra_headers: Mapping[str, str] | None = None,
    ) -> _Response:
        """An authorised call; on a 401 the token is replaced and the call made once more."""
        token = self.get_access_token()
        try:
            return self._transport.send(
                method, path, body=body, token=token.access_token, retry=retry, extra_headers=extra_headers
            )
        except AuthenticationError as exc:
            if exc.status_code != 401:
                raise
            logger.info("OrkestaPay refused the access token on %s %s; fetching a new one", method, path)
            self._discard_token(token)
            fresh = self.get_access_token()
            if fresh.access_token == token.access_token:
                fresh = self.get_access_token(force_refresh=True)
            return self._transport.send(
                method, path, body=body, token=fresh.access_token, retry=retry, extra_headers=extra_headers
            )
