"""The fake gateway's records and the store that holds them: the data every part of the state shares.

The order, checkout, payment and token records; the order state machine's table and the statuses built on it; the
errors the fake raises for refused scenarios; the ``Settings`` protocol (the behaviour switches the state reads) and
the ``Publisher`` callback type; and ``Store``, the dicts of records and idempotency keys behind one re-entrant
lock. Nothing here knows about HTTP or about the parts that change the records.
"""

from __future__ import annotations

import os
import threading
from collections.abc import Callable
from dataclasses import dataclass, field
from typing import Any, Protocol

from ._util import epoch_ms, new_id

ORDER_TRANSITIONS: dict[str, frozenset[str]] = {
    "CREATED": frozenset(
        {"PROCESSING_PAYMENT", "PAYMENT_ACTION_REQUIRED", "COMPLETED", "FAILED", "CANCELED", "EXPIRED"}
    ),
    "PROCESSING_PAYMENT": frozenset({"PAYMENT_ACTION_REQUIRED", "COMPLETED", "FAILED"}),
    "PAYMENT_ACTION_REQUIRED": frozenset({"COMPLETED", "FAILED", "EXPIRED"}),
    "COMPLETED": frozenset({"PARTIALLY_REFUNDED", "REFUNDED"}),
    "PARTIALLY_REFUNDED": frozenset({"PARTIALLY_REFUNDED", "REFUNDED"}),
}
PAID_STATUSES = frozenset({"COMPLETED", "PARTIALLY_REFUNDED", "REFUNDED"})
REFUNDABLE_PAYMENT_STATUSES = frozenset({"COMPLETED", "PARTIALLY_REFUNDED"})
COUNTRY_NAMES = {"MX": "México", "US": "United States", "CO": "Colombia", "PE": "Perú"}
DEFAULT_CARD = "4242424242424242"
DECLINE_CARD = "4000000000000002"
THREE_DS_CARD = "4000000000002503"


class FakeGatewayError(Exception):
    """A scenario the fake refuses (for example paying an expired checkout), or an illegal transition."""


class InvalidTransition(FakeGatewayError):
    """An order or payment move the state machine does not allow: a bug in the fake or in a test."""


class CheckoutExpired(FakeGatewayError):
    """The checkout's order has expired; the hosted page only shows that."""


class CheckoutClosed(FakeGatewayError):
    """The checkout's order is in a state where the requested action makes no sense."""


class PaymentDeclined(FakeGatewayError):
    """The card was declined; the hosted page shows an error and stays."""


class RefundError(FakeGatewayError):
    """A refund the API answers with 400 (balance, status, merchant setting)."""


class Settings(Protocol):
    """The behaviour switches the state reads (``FakeSettings`` provides them)."""

    profile: str
    order_read_fields: str
    checkout_url_form: str
    token_lifetime: float
    token_claims_lifetime: float | None
    checkout_lifetime: float
    return_params_completed: tuple[str, ...]
    return_params_canceled: tuple[str, ...]
    return_keeps_query: bool
    cancel_marks_order_canceled: bool
    decline_marks_order_failed: bool
    emit_cancel_events: bool
    refunds_enabled: bool
    refund_outcome: str

    def page_base_url(self) -> str: ...


Publisher = Callable[[str, dict[str, Any], dict[str, Any]], None]


@dataclass
class OrderRecord:
    """An order; ``echo`` holds the request fields the API echoes back."""

    order_id: str
    checkout_id: str
    echo: dict[str, Any]
    status: str
    expires_ms: int
    created_ms: int
    updated_ms: int
    payment_ids: list[str] = field(default_factory=list)


@dataclass
class CheckoutRecord:
    """A hosted checkout."""

    checkout_id: str
    order_id: str
    completed_redirect_url: str
    canceled_redirect_url: str
    allow_save_payment_methods: bool
    locale: str
    placed_ms: int
    #: The 64 hex digits after the checkout id in the guide's ``checkout_redirect_url`` (``checkout_url_form``).
    page_token: str = field(default_factory=lambda: os.urandom(32).hex())


@dataclass
class PaymentRecord:
    """A payment attempt on an order."""

    payment_id: str
    order_id: str
    status: str
    amount: dict[str, Any]
    source: dict[str, Any]
    transactions: list[dict[str, Any]]
    created_ms: int
    updated_ms: int
    device_session_id: str = field(default_factory=lambda: os.urandom(16).hex())


@dataclass
class TokenRecord:
    """An issued access token."""

    client_id: str
    expires_at: float


class Store:
    """The records of one fake gateway (tokens, checkouts, orders, payments, idempotency keys), behind ``lock``."""

    def __init__(self, clock: Callable[[], float]) -> None:
        self.clock = clock
        self.lock = threading.RLock()
        self.merchant_id = new_id("mch")
        self.merchant_provider_id = new_id("mpv")
        self.tokens: dict[str, TokenRecord] = {}
        self.checkouts: dict[str, CheckoutRecord] = {}
        self.orders: dict[str, OrderRecord] = {}
        self.payments: dict[str, PaymentRecord] = {}
        self.idempotency: dict[tuple[str, str, str, str], Any] = {}

    def clear(self) -> None:
        """Forget every token, checkout, order, payment and idempotency key."""
        with self.lock:
            for store in (self.tokens, self.checkouts, self.orders, self.payments, self.idempotency):
                store.clear()

    def now_ms(self) -> int:
        return epoch_ms(self.clock())


def copy_json(value: Any) -> Any:
    """A deep copy of a JSON value (dicts, lists, scalars)."""
    if isinstance(value, dict):
        return {key: copy_json(item) for key, item in value.items()}
    if isinstance(value, list):
        return [copy_json(item) for item in value]
    return value
