"""Orders and checkouts of the fake gateway: creation, lookups, the return URLs and the guarded state machine.

``OrderBook`` creates a checkout and its order from a validated request body, looks records up (in the rich profile
an order past its ``expires_at`` while still CREATED turns EXPIRED on the next look), builds the URLs the hosted
page sends the buyer back to, moves orders along ``ORDER_TRANSITIONS`` and offers the test back doors (force a
status, tamper with what the API reports). The read views live in ``views``.
"""

from __future__ import annotations

import hashlib
from typing import Any
from urllib.parse import urlsplit, urlunsplit

from . import profiles
from ._util import append_query, new_id
from .records import (
    COUNTRY_NAMES,
    ORDER_TRANSITIONS,
    CheckoutRecord,
    InvalidTransition,
    OrderRecord,
    PaymentRecord,
    Settings,
    Store,
)

_ORDER_ECHO_KEYS = ("shipping_details", "shipping_address", "billing_address")
_RETURN_ALIASES = {"orderId": "order_id", "paymentId": "payment_id", "checkoutId": "checkout_id"}
_PENDING = frozenset({"PAYMENT_ACTION_REQUIRED"})


class OrderBook:
    """Checkouts and orders on the shared ``Store``: create, look up, return URLs, transition."""

    def __init__(self, store: Store, settings: Settings) -> None:
        self.store = store
        self.settings = settings

    # creation ------------------------------------------------------------------------------------------------

    def create_checkout(self, body: dict[str, Any]) -> CheckoutRecord:
        """Create a checkout and its order from a validated request body; return the checkout."""
        now = self.store.now_ms()
        order_in: dict[str, Any] = body["order"]
        expires = order_in.get("expires_at")
        expires_ms = int(expires) if expires is not None else now + int(self.settings.checkout_lifetime * 1000)
        with self.store.lock:
            checkout = CheckoutRecord(
                checkout_id=new_id("chk"),
                order_id=new_id("ord"),
                completed_redirect_url=body["completed_redirect_url"],
                canceled_redirect_url=body["canceled_redirect_url"],
                allow_save_payment_methods=bool(body.get("allow_save_payment_methods", False)),
                locale=body.get("locale") or "ES_LATAM",
                placed_ms=now,
            )
            echo = self._order_echo(order_in, body.get("customer_id"), now)
            order = OrderRecord(checkout.order_id, checkout.checkout_id, echo, "CREATED", expires_ms, now, now)
            self.store.checkouts[checkout.checkout_id] = checkout
            self.store.orders[order.order_id] = order
            return checkout

    def _order_echo(self, order_in: dict[str, Any], customer_id: Any, now: int) -> dict[str, Any]:
        customer_in: dict[str, Any] = order_in["customer"]
        customer = {"customer_id": customer_id if isinstance(customer_id, str) else new_id("cus"), **customer_in}
        customer.update(created_at=str(now), updated_at=str(now))
        country_code = str(order_in["country_code"])
        echo: dict[str, Any] = {
            "merchant_order_id": order_in["merchant_order_id"],
            "country": COUNTRY_NAMES.get(country_code.upper(), country_code),
            "country_code": country_code,
            "currency": order_in["currency"],
            "taxes": order_in.get("taxes") or [],
            "discounts": order_in.get("discounts") or [],
            "subtotal_amount": order_in["subtotal_amount"],
            "total_amount": order_in["total_amount"],
            "products": [self._product(p) for p in order_in["products"]],
            "customer": customer,
        }
        for key in _ORDER_ECHO_KEYS:
            if order_in.get(key) is not None:
                echo[key] = order_in[key]
        echo["placed_at"] = str(now)
        echo["metadata"] = order_in.get("metadata") if isinstance(order_in.get("metadata"), dict) else {}
        return echo

    @staticmethod
    def _product(product: dict[str, Any]) -> dict[str, Any]:
        item = dict(product)
        legacy_id = item.pop("id", None)
        item.setdefault("product_id", legacy_id)
        return {"product_id": item.pop("product_id"), **item}

    # lookups -------------------------------------------------------------------------------------------------

    def checkout(self, checkout_id: str) -> CheckoutRecord:
        """The checkout record (KeyError when unknown)."""
        with self.store.lock:
            return self.store.checkouts[checkout_id]

    def order(self, order_id: str) -> OrderRecord:
        """The order record (KeyError if unknown). In the rich profile an order still CREATED turns EXPIRED here once
        ``expires_at`` passed; in the evidence profile it stays CREATED (no source shows an EXPIRED order)."""
        with self.store.lock:
            order = self.store.orders[order_id]
            if order.status == "CREATED" and self.is_expired(order) and not profiles.is_evidence(self.settings):
                self.transition(order, "EXPIRED")
            return order

    def is_expired(self, order: OrderRecord) -> bool:
        """Whether the order's ``expires_at`` has passed."""
        return self.store.now_ms() >= order.expires_ms

    def payment(self, payment_id: str) -> PaymentRecord:
        with self.store.lock:
            return self.store.payments[payment_id]

    def latest_payment(self, order: OrderRecord, statuses: frozenset[str]) -> str | None:
        """The id of the order's newest payment in one of ``statuses``, or None."""
        matching = [p for p in order.payment_ids if self.store.payments[p].status in statuses]
        return matching[-1] if matching else None

    def page_status(self, order: OrderRecord) -> str:
        """The order's status as the hosted page sees it, in either profile: a CREATED order with a pending payment
        is PAYMENT_ACTION_REQUIRED, one past its ``expires_at`` EXPIRED (the rich profile's own statuses)."""
        if order.status == "CREATED":
            if self.latest_payment(order, _PENDING) is not None:
                return "PAYMENT_ACTION_REQUIRED"
            if self.is_expired(order):
                return "EXPIRED"
        return order.status

    def merchant_order_ids(self) -> frozenset[str]:
        """Every ``merchant_order_id`` an order was created with."""
        with self.store.lock:
            return frozenset(str(order.echo["merchant_order_id"]) for order in self.store.orders.values())

    def return_url(self, checkout: CheckoutRecord, side: str, payment_id: str | None) -> str:
        """Where the hosted page sends the buyer back (``side``: completed or canceled): the shop's URL with the
        return parameters the settings name appended (``return_keeps_query`` off: instead of its own query)."""
        completed = side == "completed"
        url = checkout.completed_redirect_url if completed else checkout.canceled_redirect_url
        if not self.settings.return_keeps_query:
            url = urlunsplit(urlsplit(url)._replace(query=""))
        with self.store.lock:
            order = self.store.orders[checkout.order_id]
            values = {
                "order_id": checkout.order_id,
                "payment_id": payment_id,
                "checkout_id": checkout.checkout_id,
                "merchant_order_id": order.echo["merchant_order_id"],
                "status": order.status,
            }
        names = self.settings.return_params_completed if completed else self.settings.return_params_canceled
        params: list[tuple[str, str]] = []
        for name in names:
            value = values.get(_RETURN_ALIASES.get(name, name))
            if name == "signature":
                value = hashlib.sha256("&".join(f"{k}={v}" for k, v in params).encode()).hexdigest()
            if value is not None:
                params.append((name, str(value)))
        return append_query(url, params)

    # transitions ---------------------------------------------------------------------------------------------

    def transition(self, order: OrderRecord, status: str) -> None:
        """Move an order along the guarded state machine (InvalidTransition otherwise)."""
        if status not in ORDER_TRANSITIONS.get(order.status, frozenset()):
            raise InvalidTransition(f"order {order.order_id}: {order.status} -> {status} is not allowed")
        order.status = status
        order.updated_ms = self.store.now_ms()

    def force_status(self, order_id: str, status: str) -> None:
        """Test back door: set an order's status without the guard."""
        with self.store.lock:
            order = self.store.orders[order_id]
            order.status = status
            order.updated_ms = self.store.now_ms()

    def tamper_order(self, order_id: str, fields: dict[str, Any]) -> None:
        """Test back door: overwrite fields the API returns for an order (payments keep their own amounts)."""
        with self.store.lock:
            order = self.store.orders[order_id]
            for key, value in fields.items():
                if key == "status":
                    order.status = value
                elif key == "expires_at":
                    order.expires_ms = int(value)
                elif key in ("order_id", "created_at", "updated_at", "payments", "payment_id"):
                    raise ValueError(f"{key} cannot be tampered with")
                else:
                    order.echo[key] = value
            order.updated_ms = self.store.now_ms()
