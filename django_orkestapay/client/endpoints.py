"""The OrkestaPay client's endpoint methods: :class:`OrkestaPayClient`, the one object shops and services hold.

It validates its settings, builds a :class:`~.transport.Transport` and a :class:`~.tokens.TokenManager` and exposes
one method per API call the hosted-checkout flow needs: create and read checkouts, read orders and their payments,
read a payment, refund one (keyed by an idempotency key), read a merchant setting (whether refunds are on). Each
method says whether its call is safe to retry, quotes ids into the path, encodes the body and parses the answer into
a typed result; plus ``raw_request`` for a question none of them covers (the sandbox probe asks such questions) and
the lifecycle (``close``, context manager). The attributes it had as a single class (``base_url``, ``timeout``,
``token_cache_key``, ...) read through to the parts that hold them now."""

from __future__ import annotations

import contextvars
import time
from collections.abc import Callable, Iterable, Mapping
from decimal import Decimal
from types import TracebackType
from typing import Any, Self, TypeVar
from urllib.parse import quote, urlsplit

import requests

from .. import __version__
from ..exceptions import MalformedResponseError
from .attributes import ClientAttributes
from .parsing import (
    more_pages,
    parse_checkout,
    parse_order,
    parse_payment_page,
    parse_refund,
    parse_remote_payment,
    payment_page_content,
)
from .reads import read_order
from .results import CheckoutResult, OrderRead, RefundResult, RemoteOrder, RemotePayment, _ShapeError, encode_json
from .token_cache import TOKEN_LOCK_TIMEOUT, TOKEN_LOCK_WAIT, InMemoryTokenCache, TokenCache
from .tokens import AccessToken, TokenManager
from .transport import MAX_RETRY_AFTER, Transport, _Response

__all__ = ["PRODUCTION_BASE_URL", "REFUND_SETTING", "SANDBOX_BASE_URL", "OrkestaPayClient"]

SANDBOX_BASE_URL = "https://api.sand.orkestapay.com"
PRODUCTION_BASE_URL = "https://api.orkestapay.com"

_T = TypeVar("_T")

#: At most this many pages of an order's payments are read (no order has that many payments).
MAX_PAYMENT_PAGES = 10
#: The merchant setting that says whether refunds from e-commerce are on (OrkestaPay's WordPress plugin refunds only
#: when it is ``true``).
REFUND_SETTING = "AVAILABLE_REFUND_BY_ECOMMERCE"


def _path_segment(value: str, name: str) -> str:
    """Quote an id for use as one path segment; refuse empty and dot-segment values."""
    if not isinstance(value, str) or not value.strip() or value.strip() in (".", ".."):
        raise ValueError(f"{name} must be a non-empty id")
    return quote(value, safe="")


class OrkestaPayClient(ClientAttributes):
    """A client for one OrkestaPay environment and one set of API credentials.

    Create one per process (or per settings change) and reuse it: it holds one ``requests.Session`` and caches the
    access token in ``token_cache`` until ``token_leeway`` seconds before it expires. When several processes share
    the cache, one of them fetches a missing token while the others wait up to ``token_lock_wait`` seconds for it; a
    lock held longer than ``token_lock_timeout`` seconds (its holder died) is taken over, and a timeout of 0 turns
    this off. A safe call answered 429 or 503 with ``Retry-After`` waits that long before its retry, up to
    ``max_retry_after`` seconds (a longer wait is not retried: the error carries ``retry_after``). ``clock`` and
    ``sleep`` can be injected for tests.
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
        token_lock_timeout: float = TOKEN_LOCK_TIMEOUT,
        token_lock_wait: float = TOKEN_LOCK_WAIT,
        session: requests.Session | None = None,
        clock: Callable[[], float] = time.time,
        sleep: Callable[[float], None] = time.sleep,
        user_agent: str | None = None,
        max_retry_after: float = MAX_RETRY_AFTER,
    ) -> None:
        if not client_id or not client_secret:
            raise ValueError("client_id and client_secret are required")
        base = base_url.strip().rstrip("/")
        parts = urlsplit(base)
        if parts.scheme not in ("http", "https") or not parts.netloc or parts.query or parts.fragment:
            raise ValueError(f"base_url must be an absolute http(s) URL without query or fragment, not {base_url!r}")
        if connect_timeout <= 0 or read_timeout <= 0:
            raise ValueError("timeouts must be positive")
        if min(max_retries, backoff_factor, token_leeway, token_lock_timeout, token_lock_wait) < 0:
            raise ValueError(
                "max_retries, backoff_factor, token_leeway, token_lock_timeout and token_lock_wait must not be negative"
            )
        if max_retry_after < 0:
            raise ValueError("max_retry_after must not be negative")
        self._transport = Transport(
            base_url=base,
            timeout=(float(connect_timeout), float(read_timeout)),
            max_retries=max_retries,
            backoff_factor=backoff_factor,
            user_agent=user_agent or f"django-orkestapay/{__version__}",
            client_secret=client_secret,
            session=session,
            sleep=sleep,
            clock=clock,
            max_retry_after=max_retry_after,
        )
        self._tokens = TokenManager(
            transport=self._transport,
            client_id=client_id,
            client_secret=client_secret,
            token_cache=token_cache if token_cache is not None else InMemoryTokenCache(clock=clock),
            token_leeway=token_leeway,
            token_lock_timeout=token_lock_timeout,
            token_lock_wait=token_lock_wait,
            clock=clock,
            sleep=sleep,
        )

    def __repr__(self) -> str:
        return f"{type(self).__name__}(base_url={self.base_url!r}, client_id={self.client_id!r})"

    # ---------------------------------------------------------------------------------------------------- lifecycle

    def close(self) -> None:
        """Close the HTTP session (only if the client created it)."""
        self._transport.close()

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
        return self._tokens.get_access_token(force_refresh=force_refresh)

    def pinned_token(self) -> contextvars.Context:
        """A context whose calls use the token fetched now, never asking the cache (:meth:`read_order`'s threads)."""
        return self._tokens.pinned()

    # ------------------------------------------------------------------------------------------------- public calls

    def create_checkout(self, payload: Mapping[str, Any]) -> CheckoutResult:
        """Register a hosted checkout (``POST /v1/checkouts``). Never retried: a repeat could create a second order.

        A timeout or connection error here leaves it unknown whether the checkout exists.
        """
        response = self._call("POST", "/v1/checkouts", payload=dict(payload), retry=False)
        return self._parse(parse_checkout, response, "POST", "/v1/checkouts")

    def get_checkout(self, checkout_id: str) -> CheckoutResult:
        """Read a checkout back (``GET /v1/checkouts/{checkout_id}``)."""
        path = f"/v1/checkouts/{_path_segment(checkout_id, 'checkout_id')}"
        return self._parse(parse_checkout, self._call("GET", path, retry=True), "GET", path)

    def get_order(self, order_id: str) -> RemoteOrder:
        """Read an order and its status (``GET /v1/orders/{order_id}``)."""
        path = f"/v1/orders/{_path_segment(order_id, 'order_id')}"
        return self._parse(parse_order, self._call("GET", path, retry=True), "GET", path)

    def list_order_payments(self, order_id: str) -> list[Any]:
        """List an order's payments (``GET /v1/orders/{order_id}/payments``, the page's ``content`` as sent)."""
        path = f"/v1/orders/{_path_segment(order_id, 'order_id')}/payments"
        return self._parse(payment_page_content, self._call("GET", path, retry=True), "GET", path)

    def get_order_payments(self, order_id: str) -> list[RemotePayment]:
        """An order's payments, typed (``GET /v1/orders/{order_id}/payments``), in the order the API lists them
        (items without a ``payment_id`` left out: :meth:`read_order_payments` names them)."""
        return self.read_order_payments(order_id)[0]

    def read_order_payments(self, order_id: str) -> tuple[list[RemotePayment], list[str]]:
        """An order's payments (``GET /v1/orders/{order_id}/payments``, every page: ``?page=1``... while ``last:
        false`` or ``totalPages`` says more follow, at most :data:`MAX_PAYMENT_PAGES`, more is a
        :class:`MalformedResponseError`) and a problem line per item that is no payment object with an id. Items carry
        what the list gives (the public record: ``payment_id``, ``order_id``; :meth:`read_order` completes them)."""
        return _payment_pages(self, f"/v1/orders/{_path_segment(order_id, 'order_id')}/payments")

    def read_order(self, order_id: str, *, payment_ids: Iterable[str] = ()) -> OrderRead:
        """An order, its payments and each payment's own answer where the list lacks its status or amount, in as few
        network round trips as the answers allow: the order, its payments list and ``payment_ids`` (payments the
        caller expects, e.g. named by the buyer's return) are read at once; only a listed payment still incomplete
        is read in a second round. See :func:`.reads.read_order` for what fails the read and what is a problem."""
        return read_order(self, order_id, payment_ids=payment_ids)

    def get_payment(self, payment_id: str) -> dict[str, Any]:
        """Read a payment (``GET /v1/payments/{payment_id}``) as the raw JSON object."""
        path = f"/v1/payments/{_path_segment(payment_id, 'payment_id')}"
        return self._call("GET", path, retry=True).data

    def get_remote_payment(self, payment_id: str) -> RemotePayment:
        """Read a payment, typed (``GET /v1/payments/{payment_id}``)."""
        path = f"/v1/payments/{_path_segment(payment_id, 'payment_id')}"
        return self._parse(parse_remote_payment, self._call("GET", path, retry=True), "GET", path)

    def refund_payment(
        self, payment_id: str, *, amount: Decimal, description: str, idempotency_key: str, retry: bool = True
    ) -> RefundResult:
        """Refund ``amount`` of a payment (``POST /v1/payments/{payment_id}/refund``) under ``idempotency_key``.

        Retried on transient failures when ``retry`` (derive the key from your own refund record so a repeat under
        it can never refund twice, *if* OrkestaPay honours the key: its plugins send one but never resend it, so
        whether it does is not publicly shown; the service layer retries only when ``TRUST_IDEMPOTENCY_KEYS``).
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
            retry=retry,
            extra_headers={"Idempotency-Key": idempotency_key},
        )
        return self._parse(parse_refund, response, "POST", path)

    def get_merchant_setting(self, setting_id: str) -> Any:
        """One of the merchant's settings (``GET /v1/merchants/settings?id=<setting_id>``): the value under the
        answer's ``custom_settings`` (``{"custom_settings": {"<setting_id>": <value>}}``, as OrkestaPay's WordPress
        plugin reads it), or ``None`` when the answer does not carry it."""
        if not isinstance(setting_id, str) or not setting_id.strip():
            raise ValueError("setting_id must be a non-empty string")
        path = f"/v1/merchants/settings?id={quote(setting_id, safe='')}"
        settings = self._call("GET", path, retry=True).data.get("custom_settings")
        return settings.get(setting_id) if isinstance(settings, dict) else None

    def refunds_available(self) -> bool | None:
        """Whether the merchant's portal lets this shop refund (the ``AVAILABLE_REFUND_BY_ECOMMERCE`` setting, which
        OrkestaPay's WordPress plugin reads before every refund): ``True`` or ``False`` when the setting is a JSON
        boolean, ``None`` when the answer does not say (absent, or another value). An error answer raises."""
        value = self.get_merchant_setting(REFUND_SETTING)
        return value if isinstance(value, bool) else None

    def raw_request(
        self,
        method: str,
        path: str,
        *,
        payload: Any = None,
        headers: Mapping[str, str] | None = None,
        access_token: str | None = None,
        authorise: bool = True,
    ) -> tuple[int, dict[str, Any]]:
        """A call the methods above do not cover (the sandbox probe's questions): the status and the JSON object.

        It goes through this client's transport (timeouts, error mapping, scrubbing) and is never retried. It
        carries the cached token (renewed once on a 401), or ``access_token`` exactly as given (never renewed), or
        no token when ``authorise`` is false. An error answer raises as usual.
        """
        if not path.startswith("/v1/"):
            raise ValueError("path must start with /v1/")
        body = encode_json(payload) if payload is not None else None
        if access_token is None and authorise:
            response = self._tokens.send_authorised(method, path, body=body, retry=False, extra_headers=headers)
        else:
            response = self._transport.send(
                method, path, body=body, token=access_token, retry=False, extra_headers=headers
            )
        return response.status_code, response.data

    # ---------------------------------------------------------------------------------------------------- the calls

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
        return self._tokens.send_authorised(method, path, body=body, retry=retry, extra_headers=extra_headers)


def _payment_pages(client: OrkestaPayClient, base: str) -> tuple[list[RemotePayment], list[str]]:
    """Every page of an order's payments (:meth:`OrkestaPayClient.read_order_payments`)."""
    payments: list[RemotePayment] = []
    problems: list[str] = []
    for page in range(MAX_PAYMENT_PAGES):
        path = base if page == 0 else f"{base}?page={page}"
        response = client._call("GET", path, retry=True)
        found, skipped = client._parse(parse_payment_page, response, "GET", path)
        payments += found
        problems += skipped
        if not more_pages(response.data, page):
            return payments, problems
    raise MalformedResponseError(
        f"{MalformedResponseError.default_message}: more than {MAX_PAYMENT_PAGES} pages of payments",
        method="GET",
        path=base,
    )
