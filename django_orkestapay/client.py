"""The OrkestaPay HTTP client.

A small, framework-free wrapper around the OrkestaPay REST API (``/v1/...``) built on :mod:`requests`. It fetches and
caches the OAuth2 client-credentials token, maps every failure onto :mod:`django_orkestapay.exceptions`, retries only
the calls that are safe to repeat, and turns the responses the hosted-checkout flow needs into typed results.

This module must not import Django (directly or indirectly): the service layer passes Django's cache in as the
``token_cache`` when it wants tokens shared between processes.
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
from datetime import UTC, datetime, timedelta
from decimal import Decimal, InvalidOperation
from types import TracebackType
from typing import Any, NamedTuple, Protocol, Self, TypeVar, cast
from urllib.parse import quote, urlsplit

import requests

from . import __version__
from .exceptions import (
    APIConnectionError,
    APIError,
    APITimeoutError,
    AuthenticationError,
    InvalidRequestError,
    MalformedResponseError,
    NotFoundError,
    OrkestaPayError,
    RateLimitError,
    ServerError,
)

__all__ = [
    "PRODUCTION_BASE_URL",
    "SANDBOX_BASE_URL",
    "AccessToken",
    "CheckoutResult",
    "InMemoryTokenCache",
    "OrkestaPayClient",
    "RefundResult",
    "RemoteOrder",
    "TokenCache",
]

SANDBOX_BASE_URL = "https://api.sand.orkestapay.com"
PRODUCTION_BASE_URL = "https://api.orkestapay.com"

AUTH_PATH = "/v1/oauth/tokens"
#: HTTP statuses retried on safe calls (429 and the transient 5xx answers).
RETRY_STATUSES = frozenset({429, 500, 502, 503, 504})
#: How much of a non-JSON error body is kept on the exception.
BODY_EXCERPT_CHARS = 300

_EPOCH = datetime(1970, 1, 1, tzinfo=UTC)

_T = TypeVar("_T")
_V = TypeVar("_V")

logger = logging.getLogger("django_orkestapay.client")


# --------------------------------------------------------------------------------------------------------------------
# Token cache
# --------------------------------------------------------------------------------------------------------------------


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


# --------------------------------------------------------------------------------------------------------------------
# Results
# --------------------------------------------------------------------------------------------------------------------


@dataclass(frozen=True)
class AccessToken:
    """An OAuth2 access token and the epoch second it expires at. The token never shows in ``repr()``."""

    access_token: str = field(repr=False)
    token_type: str
    expires_at: float

    def is_usable(self, now: float, leeway: float) -> bool:
        """Whether the token is still valid ``leeway`` seconds from ``now``."""
        return now < self.expires_at - leeway


@dataclass(frozen=True)
class CheckoutResult:
    """A registered hosted checkout (``POST``/``GET /v1/checkouts``)."""

    checkout_id: str
    redirect_url: str
    order_id: str
    order_status: str
    expires_at: datetime | None
    raw: dict[str, Any]


@dataclass(frozen=True)
class RemoteOrder:
    """An order as OrkestaPay reports it (``GET /v1/orders/{id}``)."""

    order_id: str
    merchant_order_id: str | None
    status: str
    currency: str | None
    total_amount: Decimal | None
    subtotal_amount: Decimal | None
    expires_at: datetime | None
    payment_ids: tuple[str, ...]
    raw: dict[str, Any]


@dataclass(frozen=True)
class RefundResult:
    """The transaction a refund request produced (``POST /v1/payments/{id}/refund``)."""

    transaction_id: str | None
    status: str
    amount: Decimal | None
    message: str | None
    raw: dict[str, Any]

    @property
    def succeeded(self) -> bool:
        """Whether OrkestaPay reports the refund as done (``status == "SUCCESS"``)."""
        return self.status == "SUCCESS"


# --------------------------------------------------------------------------------------------------------------------
# JSON helpers
# --------------------------------------------------------------------------------------------------------------------


class _ShapeError(ValueError):
    """A 2xx body that parsed as JSON but lacks what we need; turned into MalformedResponseError with context."""


def _json_default(value: Any) -> Any:
    """Encode ``Decimal`` as a JSON number: an int when integral, else the shortest float repr."""
    if isinstance(value, Decimal):
        if not value.is_finite():
            raise ValueError(f"cannot send the non-finite amount {value} to OrkestaPay")
        if value == value.to_integral_value():
            return int(value)
        return float(value)
    raise TypeError(f"Object of type {type(value).__name__} is not JSON serializable")


def encode_json(payload: Any) -> bytes:
    """Serialise a request body; ``Decimal`` amounts become JSON numbers, NaN and infinities are refused."""
    return json.dumps(payload, default=_json_default, allow_nan=False, separators=(",", ":")).encode("utf-8")


def _reject_constant(name: str) -> Any:
    raise ValueError(f"JSON constant {name} is not allowed")


def decode_json(content: bytes | str) -> Any:
    """Parse a response body; floats become ``Decimal`` (never ``float``), NaN/Infinity are refused."""
    return json.loads(content, parse_float=Decimal, parse_constant=_reject_constant)


def _to_decimal(value: Any, name: str, *, strict: bool) -> Decimal | None:
    """Turn a JSON number or numeric string into a finite ``Decimal``; ``None`` when absent.

    An unusable value raises :class:`_ShapeError` when ``strict``, else gives ``None``.
    """
    if value is None:
        return None
    result: Decimal | None = None
    if isinstance(value, bool):
        result = None
    elif isinstance(value, Decimal):
        result = value
    elif isinstance(value, int):
        result = Decimal(value)
    elif isinstance(value, float):
        result = Decimal(repr(value))
    elif isinstance(value, str) and value.strip():
        try:
            result = Decimal(value.strip())
        except InvalidOperation:
            result = None
    if result is None or not result.is_finite():
        if strict:
            raise _ShapeError(f"{name} is not a number")
        return None
    return result


def _to_datetime(value: Any) -> datetime | None:
    """Parse an epoch-milliseconds string or number (or, tolerantly, an ISO 8601 string) into an aware UTC datetime."""
    if value is None or isinstance(value, bool):
        return None
    millis: Decimal
    if isinstance(value, Decimal):
        millis = value
    elif isinstance(value, int):
        millis = Decimal(value)
    elif isinstance(value, float):
        millis = Decimal(repr(value))
    elif isinstance(value, str):
        text = value.strip()
        if not text:
            return None
        try:
            millis = Decimal(text)
        except InvalidOperation:
            try:
                parsed = datetime.fromisoformat(text)
            except ValueError:
                return None
            return parsed.replace(tzinfo=UTC) if parsed.tzinfo is None else parsed.astimezone(UTC)
    else:
        return None
    if not millis.is_finite():
        return None
    try:
        return _EPOCH + timedelta(microseconds=int(millis * 1000))
    except (OverflowError, ValueError):
        return None


def _to_str(value: Any) -> str | None:
    """A string as sent, an integer as its digits, anything else ``None``."""
    if isinstance(value, str):
        return value
    if isinstance(value, int) and not isinstance(value, bool):
        return str(value)
    return None


def _require_str(data: Mapping[str, Any], key: str, name: str) -> str:
    value = _to_str(data.get(key))
    if value is None or not value.strip():
        raise _ShapeError(f"{name} is missing")
    return value


def _parse_checkout(data: dict[str, Any]) -> CheckoutResult:
    checkout_id = _require_str(data, "checkout_id", "checkout_id")
    redirect_url = _require_str(data, "checkout_redirect_url", "checkout_redirect_url")
    try:
        parts = urlsplit(redirect_url)
    except ValueError as exc:  # "https://[x", a host that NFKC-normalizes to "/", ...: not a URL we can trust
        raise _ShapeError("checkout_redirect_url is not a valid URL") from exc
    if parts.scheme not in ("http", "https") or not parts.netloc:
        raise _ShapeError("checkout_redirect_url is not an absolute http(s) URL")
    order = data.get("order")
    if not isinstance(order, dict):
        raise _ShapeError("order is missing")
    order_id = _require_str(order, "order_id", "order.order_id")
    status = order.get("status")
    return CheckoutResult(
        checkout_id=checkout_id,
        redirect_url=redirect_url,
        order_id=order_id,
        order_status=status.strip().upper() if isinstance(status, str) else "",
        expires_at=_to_datetime(order.get("expires_at")),
        raw=data,
    )


def _payment_ids(data: Mapping[str, Any]) -> tuple[str, ...]:
    """Collect payment ids from ``payment_id``, ``payment_ids`` and ``payments[].payment_id``, in order, once each."""
    found: list[str] = []

    def add(candidate: Any) -> None:
        if isinstance(candidate, str) and candidate.strip() and candidate not in found:
            found.append(candidate)

    add(data.get("payment_id"))
    listed = data.get("payment_ids")
    if isinstance(listed, list):
        for item in listed:
            add(item)
    payments = data.get("payments")
    if isinstance(payments, list):
        for item in payments:
            add(item.get("payment_id") if isinstance(item, dict) else item)
    return tuple(found)


def _parse_order(data: dict[str, Any]) -> RemoteOrder:
    order_id = _require_str(data, "order_id", "order_id")
    status = data.get("status")
    if not isinstance(status, str) or not status.strip():
        raise _ShapeError("status is missing")
    currency = data.get("currency")
    return RemoteOrder(
        order_id=order_id,
        merchant_order_id=_to_str(data.get("merchant_order_id")),
        status=status.strip().upper(),
        currency=currency if isinstance(currency, str) and currency else None,
        total_amount=_to_decimal(data.get("total_amount"), "total_amount", strict=True),
        subtotal_amount=_to_decimal(data.get("subtotal_amount"), "subtotal_amount", strict=True),
        expires_at=_to_datetime(data.get("expires_at")),
        payment_ids=_payment_ids(data),
        raw=data,
    )


def _parse_refund(data: dict[str, Any]) -> RefundResult:
    status = data.get("status")
    if not isinstance(status, str) or not status.strip():
        raise _ShapeError("status is missing")
    provider = data.get("provider")
    message = provider.get("message") if isinstance(provider, dict) else None
    if not isinstance(message, str):
        top_level = data.get("message")
        message = top_level if isinstance(top_level, str) else None
    return RefundResult(
        transaction_id=_to_str(data.get("transaction_id")),
        status=status.strip().upper(),
        amount=_to_decimal(data.get("amount"), "amount", strict=False),
        message=message,
        raw=data,
    )


def _error_class(status_code: int) -> type[APIError]:
    """The exception class for a non-2xx status."""
    if status_code in (400, 409, 422):
        return InvalidRequestError
    if status_code in (401, 403):
        return AuthenticationError
    if status_code == 404:
        return NotFoundError
    if status_code == 429:
        return RateLimitError
    if status_code >= 500:
        return ServerError
    return APIError


def _is_retryable(exc: OrkestaPayError) -> bool:
    """Whether a safe call should be tried again after ``exc``."""
    if isinstance(exc, APIConnectionError):
        return True
    return isinstance(exc, (ServerError, RateLimitError)) and exc.status_code in RETRY_STATUSES


def _path_segment(value: str, name: str) -> str:
    """Quote an id for use as one path segment; refuse empty and dot-segment values."""
    if not isinstance(value, str) or not value.strip() or value.strip() in (".", ".."):
        raise ValueError(f"{name} must be a non-empty id")
    return quote(value, safe="")


def token_cache_key(base_url: str, client_id: str, client_secret: str) -> str:
    """The cache key of a token: per environment and credentials, without revealing the secret."""
    material = json.dumps([base_url.rstrip("/"), client_id, client_secret]).encode("utf-8")
    return "orkestapay:token:" + hashlib.sha256(material).hexdigest()[:40]


class _Response(NamedTuple):
    status_code: int
    data: dict[str, Any]


# --------------------------------------------------------------------------------------------------------------------
# Client
# --------------------------------------------------------------------------------------------------------------------


class OrkestaPayClient:
    """A client for one OrkestaPay environment and one set of API credentials.

    Create one per process (or per settings change) and reuse it: it holds one ``requests.Session`` and caches the
    access token in ``token_cache`` until ``token_leeway`` seconds before it expires. ``clock`` and ``sleep`` can be
    injected for tests.
    """

    def __init__(
        self,
        *,
        client_id: str,
        client_secret: str,
        base_url: str = SANDBOX_BASE_URL,
        connect_timeout: float = 5.0,
        read_timeout: float = 20.0,
        max_retries: int = 2,
        backoff_factor: float = 0.25,
        token_cache: TokenCache | None = None,
        token_leeway: float = 60.0,
        session: requests.Session | None = None,
        clock: Callable[[], float] = time.time,
        sleep: Callable[[float], None] = time.sleep,
        user_agent: str | None = None,
    ) -> None:
        if not client_id or not client_secret:
            raise ValueError("client_id and client_secret are required")
        base = base_url.strip().rstrip("/")
        parts = urlsplit(base)
        if parts.scheme not in ("http", "https") or not parts.netloc or parts.query or parts.fragment:
            raise ValueError(f"base_url must be an absolute http(s) URL without query or fragment, not {base_url!r}")
        if connect_timeout <= 0 or read_timeout <= 0:
            raise ValueError("timeouts must be positive")
        if max_retries < 0 or backoff_factor < 0 or token_leeway < 0:
            raise ValueError("max_retries, backoff_factor and token_leeway must not be negative")
        self.base_url = base
        self.client_id = client_id
        self._client_secret = client_secret
        self.timeout = (float(connect_timeout), float(read_timeout))
        self.max_retries = max_retries
        self.backoff_factor = backoff_factor
        self.token_leeway = token_leeway
        self.user_agent = user_agent or f"django-orkestapay/{__version__}"
        self.token_cache_key = token_cache_key(base, client_id, client_secret)
        self._token_cache: TokenCache = token_cache if token_cache is not None else InMemoryTokenCache(clock=clock)
        self._owns_session = session is None
        self._session = session if session is not None else requests.Session()
        self._clock = clock
        self._sleep = sleep
        self._token_lock = threading.Lock()

    def __repr__(self) -> str:
        return f"{type(self).__name__}(base_url={self.base_url!r}, client_id={self.client_id!r})"

    # ---------------------------------------------------------------------------------------------------- lifecycle

    def close(self) -> None:
        """Close the HTTP session (only if the client created it)."""
        if self._owns_session:
            self._session.close()

    def __enter__(self) -> Self:
        return self

    def __exit__(
        self,
        exc_type: type[BaseException] | None,
        exc: BaseException | None,
        traceback: TracebackType | None,
    ) -> None:
        self.close()

    # -------------------------------------------------------------------------------------------------------- token

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
        response = self._send("POST", AUTH_PATH, body=body, token=None, retry=True)
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

    # ------------------------------------------------------------------------------------------------- public calls

    def create_checkout(self, payload: Mapping[str, Any]) -> CheckoutResult:
        """Register a hosted checkout (``POST /v1/checkouts``). Never retried: a repeat could create a second order.

        A timeout or connection error here leaves it unknown whether the checkout exists.
        """
        response = self._call("POST", "/v1/checkouts", payload=dict(payload), retry=False)
        return self._parse(_parse_checkout, response, "POST", "/v1/checkouts")

    def get_checkout(self, checkout_id: str) -> CheckoutResult:
        """Read a checkout back (``GET /v1/checkouts/{checkout_id}``)."""
        path = f"/v1/checkouts/{_path_segment(checkout_id, 'checkout_id')}"
        return self._parse(_parse_checkout, self._call("GET", path, retry=True), "GET", path)

    def get_order(self, order_id: str) -> RemoteOrder:
        """Read an order and its status (``GET /v1/orders/{order_id}``)."""
        path = f"/v1/orders/{_path_segment(order_id, 'order_id')}"
        return self._parse(_parse_order, self._call("GET", path, retry=True), "GET", path)

    def list_order_payments(self, order_id: str) -> list[dict[str, Any]]:
        """List an order's payments (``GET /v1/orders/{order_id}/payments``, the page's ``content``)."""
        path = f"/v1/orders/{_path_segment(order_id, 'order_id')}/payments"
        response = self._call("GET", path, retry=True)

        def parse(data: dict[str, Any]) -> list[dict[str, Any]]:
            content = data.get("content")
            if not isinstance(content, list) or not all(isinstance(item, dict) for item in content):
                raise _ShapeError("content is not a list of payments")
            return list(content)

        return self._parse(parse, response, "GET", path)

    def get_payment(self, payment_id: str) -> dict[str, Any]:
        """Read a payment (``GET /v1/payments/{payment_id}``) as the raw JSON object."""
        path = f"/v1/payments/{_path_segment(payment_id, 'payment_id')}"
        return self._call("GET", path, retry=True).data

    def refund_payment(
        self, payment_id: str, *, amount: Decimal, description: str, idempotency_key: str
    ) -> RefundResult:
        """Refund ``amount`` of a payment (``POST /v1/payments/{payment_id}/refund``).

        Retried on transient failures because it carries ``idempotency_key``; derive that key from your own refund
        record so a repeat can never refund twice.
        """
        path = f"/v1/payments/{_path_segment(payment_id, 'payment_id')}/refund"
        if not isinstance(amount, Decimal) or not amount.is_finite() or amount <= 0:
            raise ValueError("amount must be a positive Decimal")
        if (
            not isinstance(idempotency_key, str)
            or not idempotency_key.strip()
            or any(c in idempotency_key for c in "\r\n")
        ):
            raise ValueError("idempotency_key must be a non-empty single-line string")
        response = self._call(
            "POST",
            path,
            payload={"amount": amount, "description": description},
            retry=True,
            extra_headers={"Idempotency-Key": idempotency_key},
        )
        return self._parse(_parse_refund, response, "POST", path)

    # ---------------------------------------------------------------------------------------------------- transport

    def _parse(self, parser: Callable[[dict[str, Any]], _T], response: _Response, method: str, path: str) -> _T:
        try:
            return parser(response.data)
        except _ShapeError as exc:
            raise MalformedResponseError(
                f"{MalformedResponseError.default_message}: {exc}",
                status_code=response.status_code,
                method=method,
                path=path,
            ) from None

    def _call(
        self,
        method: str,
        path: str,
        *,
        payload: Any = None,
        retry: bool,
        extra_headers: Mapping[str, str] | None = None,
    ) -> _Response:
        """An authorised call; on a 401 the token is replaced and the call made once more."""
        body = encode_json(payload) if payload is not None else None
        token = self.get_access_token()
        try:
            return self._send(
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
            return self._send(
                method, path, body=body, token=fresh.access_token, retry=retry, extra_headers=extra_headers
            )

    def _send(
        self,
        method: str,
        path: str,
        *,
        body: bytes | None,
        token: str | None,
        retry: bool,
        extra_headers: Mapping[str, str] | None = None,
    ) -> _Response:
        """Send with retries (when ``retry``) on connection errors, timeouts, 429 and transient 5xx."""
        attempt = 0
        while True:
            try:
                return self._send_once(
                    method, path, body=body, token=token, extra_headers=extra_headers, attempt=attempt
                )
            except OrkestaPayError as exc:
                if not retry or attempt >= self.max_retries or not _is_retryable(exc):
                    raise
                delay = self.backoff_factor * 2**attempt
                logger.warning(
                    "OrkestaPay %s %s failed (%s); retry %d of %d in %.2f s",
                    method,
                    path,
                    type(exc).__name__ if exc.status_code is None else f"HTTP {exc.status_code}",
                    attempt + 1,
                    self.max_retries,
                    delay,
                )
                self._sleep(delay)
                attempt += 1

    def _send_once(
        self,
        method: str,
        path: str,
        *,
        body: bytes | None,
        token: str | None,
        extra_headers: Mapping[str, str] | None,
        attempt: int,
    ) -> _Response:
        headers = {"Accept": "application/json", "User-Agent": self.user_agent}
        if body is not None:
            headers["Content-Type"] = "application/json"
        if token is not None:
            headers["Authorization"] = f"Bearer {token}"
        if extra_headers:
            headers.update(extra_headers)
        started = time.perf_counter()
        try:
            response = self._session.request(
                method,
                self.base_url + path,
                data=body,
                headers=headers,
                timeout=self.timeout,
                allow_redirects=False,
            )
        except requests.Timeout as exc:
            self._log_call(method, path, "timeout", started, attempt)
            raise APITimeoutError(method=method, path=path) from exc
        except requests.RequestException as exc:
            self._log_call(method, path, type(exc).__name__, started, attempt)
            raise APIConnectionError(
                f"{APIConnectionError.default_message} ({type(exc).__name__})", method=method, path=path
            ) from exc
        self._log_call(method, path, response.status_code, started, attempt)
        return self._read_response(method, path, response, token)

    def _log_call(self, method: str, path: str, outcome: int | str, started: float, attempt: int) -> None:
        elapsed_ms = (time.perf_counter() - started) * 1000
        logger.debug("OrkestaPay %s %s -> %s in %.0f ms (attempt %d)", method, path, outcome, elapsed_ms, attempt + 1)

    def _read_response(self, method: str, path: str, response: requests.Response, token: str | None) -> _Response:
        status = response.status_code
        content = response.content
        if not 200 <= status < 300:
            raise self._error_from_response(method, path, response, token)
        # A token response holds the new token: never keep any of it on an exception.
        excerpt = None if path == AUTH_PATH else self._scrub(_excerpt(content), token)
        try:
            data = decode_json(content)
        except ValueError:
            raise MalformedResponseError(
                "OrkestaPay sent a response that is not valid JSON",
                status_code=status,
                method=method,
                path=path,
                response_body=excerpt,
            ) from None
        if not isinstance(data, dict):
            raise MalformedResponseError(
                f"OrkestaPay sent a JSON {type(data).__name__} where an object was expected",
                status_code=status,
                method=method,
                path=path,
                response_body=excerpt,
            )
        return _Response(status, data)

    def _error_from_response(
        self, method: str, path: str, response: requests.Response, token: str | None
    ) -> OrkestaPayError:
        status = response.status_code
        content = response.content
        try:
            parsed = decode_json(content) if content else None
        except ValueError:
            parsed = None
        message: str | None = None
        request_id: str | None = None
        category: str | None = None
        validation_errors: list[dict[str, Any]] = []
        body: Any
        if isinstance(parsed, dict):
            for key in ("message", "error"):
                candidate = parsed.get(key)
                if isinstance(candidate, str) and candidate.strip():
                    message = candidate
                    break
            request_id = _to_str(parsed.get("request_id"))
            raw_category = parsed.get("category")
            category = raw_category if isinstance(raw_category, str) else None
            raw_errors = parsed.get("validation_errors")
            if isinstance(raw_errors, list):
                validation_errors = [dict(item) for item in raw_errors if isinstance(item, dict)]
            body = parsed
        else:
            body = _excerpt(content) or None
        if not request_id:
            request_id = response.headers.get("X-Request-Id") or None
        return _error_class(status)(
            self._scrub(message, token),
            status_code=status,
            request_id=request_id,
            category=category,
            validation_errors=self._scrub(validation_errors, token),
            response_body=self._scrub(body, token),
            method=method,
            path=path,
        )

    def _scrub(self, value: _V, token: str | None) -> _V:
        """Replace the client secret and the access token wherever they occur in ``value``'s strings."""
        secrets = [s for s in (self._client_secret, token) if s]
        return _replace_secrets(value, secrets)


def _excerpt(content: bytes) -> str:
    return content.decode("utf-8", errors="replace")[:BODY_EXCERPT_CHARS]


def _replace_secrets(value: _V, secrets: list[str]) -> _V:
    result: Any = value
    if isinstance(value, str):
        for secret in secrets:
            result = result.replace(secret, "***")
    elif isinstance(value, dict):
        result = {key: _replace_secrets(item, secrets) for key, item in value.items()}
    elif isinstance(value, list):
        result = [_replace_secrets(item, secrets) for item in value]
    return cast(_V, result)
