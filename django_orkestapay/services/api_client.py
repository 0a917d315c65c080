"""The OrkestaPay API client the services call: one per thread, built from the current settings and rebuilt
when they change, its access token kept in the shared Django cache; and how the client's raw answers are made fit
for a ``JSONField`` before they are stored."""

from __future__ import annotations

import threading
from decimal import Decimal
from typing import Any

from django.core.cache import caches

from .. import conf
from ..client import OrkestaPayClient, token_cache_key

_clients = threading.local()


def get_client() -> OrkestaPayClient:
    """An API client for the current settings, reused per thread while the settings stay the same.

    The token lives in the Django cache named by ``TOKEN_CACHE_ALIAS`` so every worker shares it, and one worker
    at a time fetches it (``TOKEN_LOCK_TIMEOUT``, ``TOKEN_LOCK_WAIT``).
    """
    config = (
        conf.base_url(),
        str(conf.require("CLIENT_ID")),
        str(conf.require("CLIENT_SECRET")),
        float(conf.get("CONNECT_TIMEOUT")),
        float(conf.get("READ_TIMEOUT")),
        int(conf.get("MAX_RETRIES")),
        float(conf.get("TOKEN_EXPIRY_LEEWAY")),
        str(conf.get("TOKEN_CACHE_ALIAS")),
        float(conf.get("TOKEN_LOCK_TIMEOUT")),
        float(conf.get("TOKEN_LOCK_WAIT")),
    )
    cached: tuple[tuple[Any, ...], OrkestaPayClient] | None = getattr(_clients, "current", None)
    if cached is not None and cached[0] == config:
        return cached[1]
    if cached is not None:
        cached[1].close()
    (
        base_url,
        client_id,
        client_secret,
        connect_timeout,
        read_timeout,
        max_retries,
        leeway,
        alias,
        lock_timeout,
        lock_wait,
    ) = config
    client = OrkestaPayClient(
        client_id=client_id,
        client_secret=client_secret,
        base_url=base_url,
        connect_timeout=connect_timeout,
        read_timeout=read_timeout,
        max_retries=max_retries,
        token_leeway=leeway,
        token_cache=caches[alias],
        token_lock_timeout=lock_timeout,
        token_lock_wait=lock_wait,
    )
    _clients.current = (config, client)
    return client


def forget_access_token(
    base_url: str | None = None, client_id: str | None = None, client_secret: str | None = None
) -> None:
    """Delete the cached access token of these credentials (each ``None``: the settings'), so the next call fetches a
    new one. For a test whose fake gateway was reset (the pytest plugin does it), or after revoking a token."""
    key = token_cache_key(
        base_url or conf.base_url(),
        client_id or str(conf.require("CLIENT_ID")),
        client_secret or str(conf.require("CLIENT_SECRET")),
    )
    caches[str(conf.get("TOKEN_CACHE_ALIAS"))].delete(key)


def _jsonable(value: Any) -> Any:
    """Decimals (from exact JSON parsing) become strings so the value fits a JSONField."""
    if isinstance(value, dict):
        return {key: _jsonable(item) for key, item in value.items()}
    if isinstance(value, list):
        return [_jsonable(item) for item in value]
    if isinstance(value, Decimal):
        return str(value)
    return value
