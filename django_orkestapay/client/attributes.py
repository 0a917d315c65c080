"""The read-only attributes of :class:`~.endpoints.OrkestaPayClient`, read through to its transport and token
manager (a base class of its own, so the client's class stays about its calls)."""

from __future__ import annotations

from .tokens import TokenManager
from .transport import Transport


class ClientAttributes:
    """What a client was built with: base URL, credentials' id, timeouts, retries, token timings, User-Agent."""

    _transport: Transport
    _tokens: TokenManager

    @property
    def base_url(self) -> str:
        """The API's base URL, without a trailing slash."""
        return self._transport.base_url

    @property
    def client_id(self) -> str:
        """The OAuth2 client id."""
        return self._tokens.client_id

    @property
    def timeout(self) -> tuple[float, float]:
        """The ``(connect, read)`` timeout of every call, in seconds."""
        return self._transport.timeout

    @property
    def max_retries(self) -> int:
        """How often a safe call is retried after a transient failure."""
        return self._transport.max_retries

    @property
    def backoff_factor(self) -> float:
        """Retry ``n`` (from 0) waits ``backoff_factor * 2**n`` seconds."""
        return self._transport.backoff_factor

    @property
    def token_leeway(self) -> float:
        """How many seconds before its expiry a cached token is no longer used."""
        return self._tokens.token_leeway

    @property
    def token_lock_timeout(self) -> float:
        """Seconds the cross-process fetch lock lives in the cache (0: no lock)."""
        return self._tokens.fetch_lock.timeout

    @property
    def token_lock_wait(self) -> float:
        """Seconds a process waits for the token another process is fetching before it fetches one itself."""
        return self._tokens.fetch_lock.wait

    @property
    def user_agent(self) -> str:
        """The ``User-Agent`` header sent with every call."""
        return self._transport.user_agent

    @property
    def token_cache_key(self) -> str:
        """The key the access token is cached under (see :func:`~.tokens.token_cache_key`)."""
        return self._tokens.token_cache_key
