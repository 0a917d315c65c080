"""The OrkestaPay HTTP client.

A small, framework-free wrapper around the OrkestaPay REST API (``/v1/...``) built on :mod:`requests`. It fetches and
caches the OAuth2 client-credentials token, maps every failure onto :mod:`django_orkestapay.exceptions`, retries only
the calls that are safe to repeat, and turns the responses the hosted-checkout flow needs into typed results.

This package must not import Django (directly or indirectly): the service layer passes Django's cache in as the
``token_cache`` when it wants tokens shared between processes. Its modules import each other one way only:
``results`` (typed results, JSON, the coercion of values) <- ``parsing`` (answers into results, tolerant of what
the public record does not show) and ``transport`` (session, retries, error mapping, scrubbing) <- ``tokens`` (the
token, its locks, the refresh; it uses ``token_cache``: the cache protocol, the in-memory cache, the cross-process
fetch lock) <- ``reads`` (an order with its payments, concurrently) <- ``endpoints`` (:class:`OrkestaPayClient`).
``evidence`` is the table of every field the client reads or sends, its source and what happens without it.
Import the public names from here.
"""

from __future__ import annotations

from .endpoints import PRODUCTION_BASE_URL, SANDBOX_BASE_URL, OrkestaPayClient
from .parsing import parse_checkout, parse_order, parse_remote_payment
from .results import (
    AMOUNT_LIMIT,
    CheckoutResult,
    OrderRead,
    RefundResult,
    RemoteOrder,
    RemotePayment,
    decode_json,
    encode_json,
)
from .token_cache import TOKEN_LOCK_TIMEOUT, TOKEN_LOCK_WAIT, InMemoryTokenCache, TokenCache
from .tokens import AccessToken, token_cache_key
from .transport import AUTH_PATH, BODY_EXCERPT_CHARS, RETRY_STATUSES

__all__ = [
    "AMOUNT_LIMIT",
    "AUTH_PATH",
    "BODY_EXCERPT_CHARS",
    "PRODUCTION_BASE_URL",
    "RETRY_STATUSES",
    "SANDBOX_BASE_URL",
    "TOKEN_LOCK_TIMEOUT",
    "TOKEN_LOCK_WAIT",
    "AccessToken",
    "CheckoutResult",
    "InMemoryTokenCache",
    "OrderRead",
    "OrkestaPayClient",
    "RefundResult",
    "RemoteOrder",
    "RemotePayment",
    "TokenCache",
    "decode_json",
    "encode_json",
    "parse_checkout",
    "parse_order",
    "parse_remote_payment",
    "token_cache_key",
]
