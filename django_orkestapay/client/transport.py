"""The OrkestaPay client's transport: one HTTP exchange, from request to decoded JSON object or exception.

:class:`Transport` owns the ``requests.Session``, puts the timeouts, ``User-Agent`` and ``Accept``/``Content-Type``
headers on every call, retries with exponential backoff only when the caller says the call is safe to repeat
(connection errors, timeouts, 429 and transient 5xx; a 429 or 503 with ``Retry-After`` waits that long instead, up
to ``max_retry_after`` seconds, and is not retried when it asks for more), logs each attempt without secrets,
decodes a 2xx body into a JSON object and maps every other answer onto the :mod:`django_orkestapay.exceptions` tree,
with the client secret and the access token scrubbed from whatever the exception keeps. It knows nothing of tokens
beyond the one it is handed, nor of endpoints."""

from __future__ import annotations

import datetime
import email.utils
import logging
import re
import time
from collections.abc import Callable, Mapping
from typing import Any, NamedTuple, TypeVar, cast

import requests

from ..exceptions import (
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
from .results import _to_str, decode_json

__all__ = [
    "AUTH_PATH",
    "BODY_EXCERPT_CHARS",
    "MAX_RETRY_AFTER",
    "RETRY_STATUSES",
    "Transport",
    "retry_after_seconds",
]

AUTH_PATH = "/v1/oauth/tokens"
#: HTTP statuses retried on safe calls (429 and the transient 5xx answers).
RETRY_STATUSES = frozenset({429, 500, 502, 503, 504})
#: How much of a non-JSON error body is kept on the exception.
BODY_EXCERPT_CHARS = 300
#: Statuses whose ``Retry-After`` header is read (RFC 9110: 503; RFC 6585: 429).
RETRY_AFTER_STATUSES = frozenset({429, 503})
#: The longest ``Retry-After`` (seconds) a safe call waits out before its retry. A buyer's page waits on these calls
#: (the token, the order read of a return), so a longer wait is not waited: the error is raised at once, carrying
#: ``retry_after`` for the caller to pass on.
MAX_RETRY_AFTER = 5.0
_DELAY_SECONDS = re.compile(r"[0-9]{1,10}")

_V = TypeVar("_V")

# One logger for the whole client package, named as it was when the client was a single module.
logger = logging.getLogger("django_orkestapay.client")


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


def retry_after_seconds(value: str | None, *, now: float) -> float | None:
    """A ``Retry-After`` header as seconds from ``now`` (an epoch second): ``delay-seconds`` (``"120"``) or an
    HTTP date (``"Wed, 21 Oct 2026 07:28:00 GMT"``, never negative); ``None`` when absent or unreadable."""
    if value is None:
        return None
    text = value.strip()
    if _DELAY_SECONDS.fullmatch(text):
        return float(int(text))
    try:
        when = email.utils.parsedate_to_datetime(text)
    except (TypeError, ValueError, IndexError, OverflowError):
        return None
    if when.tzinfo is None:  # an HTTP date is always GMT
        when = when.replace(tzinfo=datetime.UTC)
    return max(0.0, when.timestamp() - now)


class _Response(NamedTuple):
    status_code: int
    data: dict[str, Any]


class Transport:
    """Sends requests to one OrkestaPay base URL over one ``requests.Session``.

    ``client_secret`` is only used to scrub it from errors. ``sleep`` waits between retries and ``clock`` dates an
    HTTP-date ``Retry-After`` (both injectable for tests).
    A session passed in is used but never closed; one created here is closed by :meth:`close`.
    """

    def __init__(
        self,
        *,
        base_url: str,
        timeout: tuple[float, float],
        max_retries: int,
        backoff_factor: float,
        user_agent: str,
        client_secret: str,
        session: requests.Session | None,
        sleep: Callable[[float], None],
        clock: Callable[[], float] = time.time,
        max_retry_after: float = MAX_RETRY_AFTER,
    ) -> None:
        self.base_url = base_url
        self.timeout = timeout
        self.max_retries = max_retries
        self.backoff_factor = backoff_factor
        self.user_agent = user_agent
        self._client_secret = client_secret
        self._owns_session = session is None
        self.session = session if session is not None else requests.Session()
        self._sleep = sleep
        self._clock = clock
        self.max_retry_after = max_retry_after

    def close(self) -> None:
        """Close the HTTP session (only if this transport created it)."""
        if self._owns_session:
            self.session.close()

    def send(
        self,
        method: str,
        path: str,
        *,
        body: bytes | None,
        token: str | None,
        retry: bool,
        extra_headers: Mapping[str, str] | None = None,
    ) -> _Response:
        """Send with retries (when ``retry``) on connection errors, timeouts, 429 and transient 5xx: after the
        backoff, or after the answer's ``Retry-After`` when it has one; one longer than ``max_retry_after`` is not
        retried (the error, with its ``retry_after``, is raised at once)."""
        attempt = 0
        while True:
            try:
                return self._send_once(
                    method, path, body=body, token=token, extra_headers=extra_headers, attempt=attempt
                )
            except OrkestaPayError as exc:
                exc.attempts = attempt + 1  # how many times this request was sent (a refund's key may repeat)
                if not retry or attempt >= self.max_retries or not _is_retryable(exc):
                    raise
                asked: float | None = getattr(exc, "retry_after", None)
                if asked is not None and asked > self.max_retry_after:
                    logger.warning(
                        "OrkestaPay %s %s: HTTP %s asks to wait %.0f s (Retry-After), more than %.0f s; not retried",
                        method,
                        path,
                        exc.status_code,
                        asked,
                        self.max_retry_after,
                    )
                    raise
                delay = self.backoff_factor * 2**attempt if asked is None else asked
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
            response = self.session.request(
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
        retry_after = None
        if status in RETRY_AFTER_STATUSES:
            retry_after = retry_after_seconds(response.headers.get("Retry-After"), now=self._clock())
        return _error_class(status)(
            self._scrub(message, token),
            retry_after=retry_after,
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
