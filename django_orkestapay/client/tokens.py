"""The OrkestaPay client's access token: cache hook, locks, fetch, discard and the refresh on a 401.

:class:`TokenManager` fetches the OAuth2 client-credentials token (``POST /v1/oauth/tokens``), keeps it in a
:class:`~.token_cache.TokenCache` under :func:`token_cache_key` until ``token_leeway`` seconds before it expires, and
sends authorised calls: when OrkestaPay answers one with 401 it discards the refused token, gets a fresh one and makes
the call once more. A fetch is single-flight: a thread lock lets one thread of the client fetch while the others
wait, and a :class:`~.token_cache.FetchLock` in the cache does the same for every process sharing it.
:class:`~.token_cache.InMemoryTokenCache` is the per-process default; the service layer passes Django's cache in
instead (it satisfies the protocol), so nothing here imports Django. A broken cache is logged and treated as a miss.
"""

from __future__ import annotations

import contextvars
import hashlib
import json
import logging
import threading
from collections.abc import Callable, Mapping
from dataclasses import dataclass, field

from ..exceptions import AuthenticationError, MalformedResponseError
from .results import _to_decimal, encode_json
from .token_cache import FetchLock, GuardedCache, InMemoryTokenCache, TokenCache
from .transport import AUTH_PATH, Transport, _Response

__all__ = ["AccessToken", "InMemoryTokenCache", "TokenCache", "TokenManager", "token_cache_key"]

# One logger for the whole client package, named as it was when the client was a single module.
logger = logging.getLogger("django_orkestapay.client")


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


#: A token the calls of the current context use without asking the cache again (:meth:`TokenManager.pinned`): the
#: concurrent reads of one order share the token fetched before they start, and their threads never touch the
#: cache (a database cache would open a connection in each).
_PINNED: contextvars.ContextVar[AccessToken | None] = contextvars.ContextVar("orkestapay_pinned_token", default=None)


class TokenManager:
    """Gets, caches and refreshes the access token of one set of credentials, and sends calls that carry it.

    ``token_lock_timeout`` and ``token_lock_wait`` configure the fetch lock shared through the cache (see
    :class:`~.token_cache.FetchLock`; a timeout of 0 turns it off). ``clock`` gives the epoch second used for expiry
    and the lock's wait, ``sleep`` waits between two looks into the cache (both injectable for tests).
    """

    def __init__(
        self,
        *,
        transport: Transport,
        client_id: str,
        client_secret: str,
        token_cache: TokenCache,
        token_leeway: float,
        token_lock_timeout: float,
        token_lock_wait: float,
        clock: Callable[[], float],
        sleep: Callable[[float], None],
    ) -> None:
        self._transport = transport
        self.client_id = client_id
        self._client_secret = client_secret
        self.token_leeway = token_leeway
        self.token_cache_key = token_cache_key(transport.base_url, client_id, client_secret)
        self._cache = GuardedCache(token_cache)
        self._clock = clock
        self._token_lock = threading.Lock()
        self.fetch_lock = FetchLock(
            self._cache,
            self.token_cache_key + ":lock",
            timeout=token_lock_timeout,
            wait=token_lock_wait,
            clock=clock,
            sleep=sleep,
        )

    def get_access_token(self, *, force_refresh: bool = False) -> AccessToken:
        """Return a usable access token, from the cache when possible (``POST /v1/oauth/tokens`` otherwise).

        One fetch at a time: the other threads of this client wait on a thread lock, the other processes (and
        clients) sharing the cache on the fetch lock, and then use the token it brought. ``force_refresh`` fetches a
        token other than the one cached now.
        """
        if not force_refresh:
            cached = self._cached_token()
            if cached is not None:
                return cached
        with self._token_lock:
            current = self._cached_token()
            if current is not None and not force_refresh:
                return current
            refused = current.access_token if current is not None else None
            with self.fetch_lock.turn(lambda: self._cached_token(unless=refused)) as stored:
                return stored if stored is not None else self._fetch_token()

    def pinned(self) -> contextvars.Context:
        """A copy of the current context in which every authorised call uses the token fetched now (from the cache
        when possible); run the concurrent calls of one read in it (``context.run``)."""
        context = contextvars.copy_context()
        context.run(_PINNED.set, self.get_access_token())
        return context

    def _cached_token(self, *, unless: str | None = None) -> AccessToken | None:
        """The cached token while it is usable, unless it is the access token ``unless``."""
        value = self._cache.get(self.token_cache_key)
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
        if access_token == unless:
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
            self._cache.set(self.token_cache_key, value, timeout)
        return token

    def _discard_token(self, token: AccessToken) -> None:
        """Forget ``token`` if the cache still holds it (another process may already have replaced it)."""
        with self._token_lock:
            value = self._cache.get(self.token_cache_key)
            if not isinstance(value, dict) or value.get("access_token") == token.access_token:
                self._cache.delete(self.token_cache_key)

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
        token = _PINNED.get() or self.get_access_token()
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
