"""The exceptions django-orkestapay raises.

Everything the API client or the service layer raises derives from :class:`OrkestaPayError`. This module has no
Django imports so that :mod:`django_orkestapay.client` stays framework-free; the configuration error, which derives
from Django's ``ImproperlyConfigured``, lives in :mod:`django_orkestapay.conf`.
"""

from __future__ import annotations

from typing import Any

_SECRET_MARKERS = ("secret", "token", "authorization", "password")


def _redact(value: Any) -> Any:
    """Return ``value`` with anything that looks like a credential replaced by ``"***"``."""
    if isinstance(value, dict):
        return {
            key: "***" if any(m in str(key).lower() for m in _SECRET_MARKERS) else _redact(item)
            for key, item in value.items()
        }
    if isinstance(value, list):
        return [_redact(item) for item in value]
    return value


class OrkestaPayError(Exception):
    """Base class of every error this package raises about OrkestaPay.

    ``status_code`` is the HTTP status (``None`` when no response arrived), ``message`` the API's own message (or
    ours), ``request_id``/``category``/``validation_errors`` come from the API's error body, and ``response_body``
    keeps the parsed (or raw) body with credentials redacted.
    """

    default_message = "OrkestaPay request failed"

    def __init__(
        self,
        message: str | None = None,
        *,
        status_code: int | None = None,
        request_id: str | None = None,
        category: str | None = None,
        validation_errors: list[dict[str, Any]] | None = None,
        response_body: Any = None,
        method: str | None = None,
        path: str | None = None,
    ) -> None:
        self.message = message or self.default_message
        self.status_code = status_code
        self.request_id = request_id
        self.category = category
        self.validation_errors = list(validation_errors or [])
        self.response_body = _redact(response_body)
        self.method = method
        self.path = path
        #: How many times the request was sent before this error (more than 1: the client retried it).
        self.attempts = 1
        super().__init__(self.message)

    def __str__(self) -> str:
        parts = [self.message]
        if self.method and self.path:
            parts.append(f"{self.method} {self.path}")
        if self.status_code is not None:
            parts.append(f"HTTP {self.status_code}")
        if self.request_id:
            parts.append(f"request_id={self.request_id}")
        if self.validation_errors:
            fields = ", ".join(
                f"{e.get('field', '?')}: {e.get('message', '')}" for e in self.validation_errors if isinstance(e, dict)
            )
            parts.append(f"validation errors: {fields}")
        return " | ".join(parts)

    @property
    def retryable(self) -> bool:
        """Whether trying the same call again later may succeed."""
        return False


class APIError(OrkestaPayError):
    """The API answered with an error status we have no more specific class for.

    ``retry_after`` is the wait OrkestaPay asked for, in seconds, when a 429 or 503 carried a ``Retry-After`` header
    (a number of seconds or an HTTP date), else ``None``: pass it on (a ``Retry-After`` of your own) rather than
    asking again sooner. The client waits it out before a retry only up to ``max_retry_after`` seconds.
    """

    def __init__(self, message: str | None = None, *, retry_after: float | None = None, **kwargs: Any) -> None:
        super().__init__(message, **kwargs)
        self.retry_after = retry_after


class AuthenticationError(APIError):
    """The credentials or the access token were refused (401/403)."""

    default_message = "OrkestaPay refused the credentials"


class InvalidRequestError(APIError):
    """The API rejected the request as invalid (400/409/422); ``validation_errors`` says which fields."""

    default_message = "OrkestaPay rejected the request"


class NotFoundError(APIError):
    """The object asked for does not exist at OrkestaPay (404)."""

    default_message = "Not found at OrkestaPay"


class RateLimitError(APIError):
    """Too many requests (429)."""

    default_message = "OrkestaPay rate limit reached"

    @property
    def retryable(self) -> bool:
        return True


class ServerError(APIError):
    """OrkestaPay answered 5xx."""

    default_message = "OrkestaPay is unavailable"

    @property
    def retryable(self) -> bool:
        return True


class MalformedResponseError(APIError):
    """The response was not the JSON we expected (invalid, truncated or missing required fields)."""

    default_message = "OrkestaPay sent a response we could not understand"

    @property
    def retryable(self) -> bool:
        return True


class APIConnectionError(OrkestaPayError):
    """No response arrived: connection refused, DNS failure, TLS error or reset."""

    default_message = "Could not reach OrkestaPay"

    @property
    def retryable(self) -> bool:
        return True


class APITimeoutError(APIConnectionError):
    """The request timed out (connecting or reading)."""

    default_message = "OrkestaPay did not answer in time"


class UnexpectedRedirectError(OrkestaPayError):
    """The API returned a checkout URL on a host we do not trust; the buyer is not sent there."""

    default_message = "OrkestaPay returned a checkout URL on an unexpected host"


class WebhookVerificationError(OrkestaPayError):
    """A webhook's signature, timestamp or headers did not verify."""

    default_message = "Webhook signature verification failed"


class InvalidTransitionError(OrkestaPayError):
    """A status change that the order state machine does not allow."""

    default_message = "Status change not allowed"


class OrderNotPayableError(OrkestaPayError):
    """The order cannot start a checkout (already paid, refunded, or its amounts do not add up)."""

    default_message = "This order cannot be paid"


class PaymentInProgressError(OrderNotPayableError):
    """A payment of the order has not finished (a bank transfer, cash, 3-D Secure): no new checkout meanwhile."""

    default_message = "A payment for this order is in progress"


class TooManyFailedCheckoutsError(OrkestaPayError):
    """OrkestaPay refused (or could not take) this order's last checkouts, ``FAILED_CHECKOUT_LIMIT`` within
    ``FAILED_CHECKOUT_WINDOW``: no new one is asked for until ``retry_after`` seconds have passed."""

    default_message = "Too many failed checkouts for this order; try again later"

    def __init__(self, message: str | None = None, *, retry_after: int = 60, **kwargs: Any) -> None:
        super().__init__(message, **kwargs)
        self.retry_after = retry_after

    @property
    def retryable(self) -> bool:
        return True


class PartiallyPaidError(OrderNotPayableError):
    """The order received part of its total (or money a person must look at): no new checkout for the full total is
    offered; the shop settles the rest with the buyer."""

    default_message = "Part of this order was paid; no new checkout is offered"


class PaymentLinkUnusableError(OrkestaPayError):
    """A payment link that cannot be used: ``reason`` is ``"unknown"`` (no such link), ``"expired"`` or
    ``"revoked"``; ``link`` is the :class:`~django_orkestapay.models.PaymentLink` (``None`` when unknown)."""

    default_message = "This payment link cannot be used"

    def __init__(self, message: str | None = None, *, reason: str = "unknown", link: Any = None, **kwargs: Any) -> None:
        super().__init__(message, **kwargs)
        self.reason = reason
        self.link = link


class RefundNotAllowedError(OrkestaPayError):
    """The order cannot be refunded as asked (not paid, no payment id, or more than what is left to refund)."""

    default_message = "This refund is not allowed"


class ReviewChangedError(OrkestaPayError):
    """An operator's review of an order (its flag and reason) was based on a page shown before the review changed (a
    payment or another operator flagged it meanwhile): nothing was saved."""

    default_message = "The order's review changed since the page was shown"


class RefundAlreadySentError(RefundNotAllowedError):
    """This refund confirmation was submitted before (a double submit, a resubmit): its refund exists and nothing new
    was sent. ``refund`` is that existing refund (a :class:`~django_orkestapay.models.Refund`)."""

    default_message = "This refund was already sent"

    def __init__(self, message: str | None = None, *, refund: Any = None, **kwargs: Any) -> None:
        super().__init__(message, **kwargs)
        self.refund = refund


class RefundsUnavailableError(RefundNotAllowedError):
    """OrkestaPay says this shop's refunds are turned off (the portal's ``AVAILABLE_REFUND_BY_ECOMMERCE`` setting is
    ``false``): nothing was recorded or sent. See ``services.refund_availability``."""

    default_message = "Refunds are turned off in the OrkestaPay portal"


#: API errors that say the answer itself cannot be used (no status, a body that is no JSON object, an id OrkestaPay
#: does not know, a read it refuses as invalid), as opposed to OrkestaPay being unreachable or busy.
UNUSABLE_ANSWERS: tuple[type[OrkestaPayError], ...] = (MalformedResponseError, NotFoundError, InvalidRequestError)


def is_unusable_answer(exc: BaseException) -> bool:
    """Whether ``exc`` is an answer we cannot use (:data:`UNUSABLE_ANSWERS`): asking again at once would most likely
    get the same answer, so a buyer or a webhook is not kept waiting on it (the order is flagged for a person, and
    the sync and the reprocess sweep ask again later, with backoff)."""
    return isinstance(exc, UNUSABLE_ANSWERS)
