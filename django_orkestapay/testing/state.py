"""The fake gateway's in-memory state: tokens, checkouts, orders, payments and their guarded transitions.

Everything here runs under one re-entrant lock and knows nothing about HTTP. Views (``*_view``) return fresh dicts
in the API's shapes; amounts are the very JSON numbers the client sent.
"""

from __future__ import annotations

import base64
import json
import os
import threading
from collections.abc import Callable
from dataclasses import dataclass, field
from decimal import Decimal
from typing import Any, Protocol

from ._util import append_query, epoch_ms, new_id, to_decimal

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
_ORDER_ECHO_KEYS = ("shipping_details", "shipping_address", "billing_address")


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
    """The behaviour switches the state reads (FakeOrkestaPay provides them)."""

    token_lifetime: float
    checkout_lifetime: float
    cancel_marks_order_canceled: bool
    decline_marks_order_failed: bool
    emit_cancel_events: bool
    refunds_enabled: bool
    decline_refunds: bool

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


def _b64url(data: bytes) -> str:
    return base64.urlsafe_b64encode(data).rstrip(b"=").decode("ascii")


def _b64url_json(value: dict[str, Any]) -> str:
    return _b64url(json.dumps(value, separators=(",", ":")).encode("utf-8"))


def card_source(card_number: str | None, customer: dict[str, Any]) -> dict[str, Any]:
    """A ``payment_source`` for a card payment."""
    digits = "".join(ch for ch in (card_number or DEFAULT_CARD) if ch.isdigit()) or DEFAULT_CARD
    brand = {"4": "VISA", "5": "MASTERCARD", "3": "AMERICAN_EXPRESS"}.get(digits[0], "CARNET")
    card = {
        "bin": digits[:6],
        "brand": brand,
        "card_type": "CREDIT",
        "expiration_month": "12",
        "expiration_year": "2030",
        "holder_name": customer.get("first_name", ""),
        "holder_last_name": customer.get("last_name", ""),
        "issuer_bank_name": "FAKE BANK",
        "last_four": digits[-4:],
        "one_time_use": False,
    }
    return {
        "type": "CARD",
        "payment_method_id": new_id("pym"),
        "settings": {"card": {"capture": True}},
        "card": card,
    }


def spei_source() -> dict[str, Any]:
    """A ``payment_source`` for a pending SPEI transfer."""
    clabe = "646180" + "".join(str(b % 10) for b in os.urandom(12))
    return {"type": "SPEI", "payment_method_id": new_id("pym"), "spei": {"clabe": clabe, "bank": "STP"}}


class GatewayState:
    """All mutable state of one fake gateway, behind ``self.lock``."""

    def __init__(self, settings: Settings, clock: Callable[[], float], publish: Publisher) -> None:
        self.settings = settings
        self.clock = clock
        self.publish = publish
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

    # tokens --------------------------------------------------------------------------------------------------

    def issue_token(self, client_id: str, issuer: str) -> dict[str, Any]:
        """Issue a JWT-shaped Bearer token valid for ``token_lifetime`` seconds."""
        now = self.clock()
        lifetime = self.settings.token_lifetime
        header = {"alg": "RS256", "typ": "JWT", "kid": _b64url(os.urandom(32))}
        claims = {
            "exp": int(now + lifetime),
            "iat": int(now),
            "jti": new_id("jti")[4:],
            "iss": issuer,
            "sub": new_id("sub")[4:],
            "typ": "Bearer",
            "azp": client_id,
        }
        token = f"{_b64url_json(header)}.{_b64url_json(claims)}.{_b64url(os.urandom(256))}"
        with self.lock:
            self.tokens[token] = TokenRecord(client_id, now + lifetime)
        return {"token_type": "Bearer", "expires_in": int(lifetime), "access_token": token}

    def token_client(self, token: str) -> str | None:
        """The client id of a known, unexpired token, else None."""
        with self.lock:
            record = self.tokens.get(token)
        if record is None or self.clock() >= record.expires_at:
            return None
        return record.client_id

    def expire_tokens(self) -> None:
        """Make every issued token expired (the next API call with one gets 401)."""
        with self.lock:
            for record in self.tokens.values():
                record.expires_at = float("-inf")

    # creation ------------------------------------------------------------------------------------------------

    def create_checkout(self, body: dict[str, Any]) -> dict[str, Any]:
        """Create a checkout and its order from a validated request body; return the API view."""
        now = self.now_ms()
        order_in: dict[str, Any] = body["order"]
        expires = order_in.get("expires_at")
        expires_ms = int(expires) if expires is not None else now + int(self.settings.checkout_lifetime * 1000)
        with self.lock:
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
            self.checkouts[checkout.checkout_id] = checkout
            self.orders[order.order_id] = order
            return self.checkout_view(checkout.checkout_id)

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

    # lookups and views ---------------------------------------------------------------------------------------

    def checkout(self, checkout_id: str) -> CheckoutRecord:
        """The checkout record (KeyError when unknown)."""
        with self.lock:
            return self.checkouts[checkout_id]

    def order(self, order_id: str) -> OrderRecord:
        """The order record, lazily EXPIRED once ``expires_at`` passed while still CREATED (KeyError if unknown)."""
        with self.lock:
            order = self.orders[order_id]
            if order.status == "CREATED" and self.now_ms() >= order.expires_ms:
                self.transition(order, "EXPIRED")
            return order

    def payment(self, payment_id: str) -> PaymentRecord:
        with self.lock:
            return self.payments[payment_id]

    def order_view(self, order_id: str) -> dict[str, Any]:
        """``GET /v1/orders/{id}``."""
        with self.lock:
            order = self.order(order_id)
            view: dict[str, Any] = {"order_id": order.order_id, "status": order.status}
            view["expires_at"] = str(order.expires_ms)
            view.update(_copy(order.echo))
            view["created_at"] = str(order.created_ms)
            view["updated_at"] = str(order.updated_ms)
            view["payments"] = [{"payment_id": p, "status": self.payments[p].status} for p in order.payment_ids]
            if order.payment_ids:
                view["payment_id"] = order.payment_ids[-1]
            return view

    def checkout_view(self, checkout_id: str) -> dict[str, Any]:
        """``GET /v1/checkouts/{id}`` (and the create answer): the checkout with its current order."""
        with self.lock:
            checkout = self.checkout(checkout_id)
            return {
                "checkout_id": checkout.checkout_id,
                "checkout_redirect_url": f"{self.settings.page_base_url()}/checkout/{checkout.checkout_id}",
                "completed_redirect_url": checkout.completed_redirect_url,
                "canceled_redirect_url": checkout.canceled_redirect_url,
                "allow_save_payment_methods": checkout.allow_save_payment_methods,
                "locale": checkout.locale,
                "placed_at": str(checkout.placed_ms),
                "order": self.order_view(checkout.order_id),
            }

    def payment_view(self, payment_id: str) -> dict[str, Any]:
        """``GET /v1/payments/{id}``: the payment object of reference section 8."""
        with self.lock:
            payment = self.payments[payment_id]
            order = self.orders[payment.order_id]
            return {
                "payment_id": payment.payment_id,
                "order_id": payment.order_id,
                "merchant_id": self.merchant_id,
                "merchant_order_id": order.echo["merchant_order_id"],
                "is_payment_link": False,
                "device_session_id": payment.device_session_id,
                "status": payment.status,
                "amount": _copy(payment.amount),
                "payment_source": _copy(payment.source),
                "transactions": _copy(payment.transactions),
                "created_at": str(payment.created_ms),
                "updated_at": str(payment.updated_ms),
            }

    def order_payments_view(self, order_id: str) -> dict[str, Any]:
        """``GET /v1/orders/{id}/payments``: a Spring-style page, in creation order."""
        with self.lock:
            content = [self.payment_view(p) for p in self.order(order_id).payment_ids]
        count = len(content)
        return {
            "content": content,
            "totalElements": count,
            "totalPages": 1 if count else 0,
            "size": max(count, 20),
            "number": 0,
            "numberOfElements": count,
            "first": True,
            "last": True,
            "empty": not content,
        }

    # transitions ---------------------------------------------------------------------------------------------

    def transition(self, order: OrderRecord, status: str) -> None:
        """Move an order along the guarded state machine (InvalidTransition otherwise)."""
        if status not in ORDER_TRANSITIONS.get(order.status, frozenset()):
            raise InvalidTransition(f"order {order.order_id}: {order.status} -> {status} is not allowed")
        order.status = status
        order.updated_ms = self.now_ms()

    def force_status(self, order_id: str, status: str) -> None:
        """Test back door: set an order's status without the guard."""
        with self.lock:
            order = self.orders[order_id]
            order.status = status
            order.updated_ms = self.now_ms()

    def tamper_order(self, order_id: str, fields: dict[str, Any]) -> None:
        """Test back door: overwrite fields the API returns for an order (payments keep their own amounts)."""
        with self.lock:
            order = self.orders[order_id]
            for key, value in fields.items():
                if key == "status":
                    order.status = value
                elif key == "expires_at":
                    order.expires_ms = int(value)
                elif key in ("order_id", "created_at", "updated_at", "payments", "payment_id"):
                    raise ValueError(f"{key} cannot be tampered with")
                else:
                    order.echo[key] = value
            order.updated_ms = self.now_ms()

    def _emit(self, event_type: str, payment_id: str) -> None:
        payment = self.payment_view(payment_id)
        self.publish(event_type, payment, self.order_view(payment["order_id"]))

    # hosted-page actions -------------------------------------------------------------------------------------

    def _open_order(self, checkout_id: str) -> tuple[CheckoutRecord, OrderRecord]:
        checkout = self.checkout(checkout_id)
        return checkout, self.order(checkout.order_id)

    def _completed_url(self, checkout: CheckoutRecord, payment_id: str | None) -> str:
        params = [("order_id", checkout.order_id)]
        if payment_id:
            params.append(("payment_id", payment_id))
        params.append(("checkout_id", checkout.checkout_id))
        return append_query(checkout.completed_redirect_url, params)

    def _latest_payment(self, order: OrderRecord, statuses: frozenset[str]) -> str | None:
        matching = [p for p in order.payment_ids if self.payments[p].status in statuses]
        return matching[-1] if matching else None

    def _replay_url(self, checkout: CheckoutRecord, order: OrderRecord) -> str | None:
        """The redirect of an already paid (or pending) checkout, or None when it is still open."""
        if order.status in PAID_STATUSES:
            return self._completed_url(checkout, self._latest_payment(order, PAID_STATUSES))
        if order.status == "PAYMENT_ACTION_REQUIRED":
            pending = frozenset({"PAYMENT_ACTION_REQUIRED"})
            return self._completed_url(checkout, self._latest_payment(order, pending))
        return None

    @staticmethod
    def _require_created(order: OrderRecord) -> None:
        if order.status == "EXPIRED":
            raise CheckoutExpired(f"order {order.order_id} has expired")
        if order.status != "CREATED":
            raise CheckoutClosed(f"order {order.order_id} is {order.status}")

    def pay(self, checkout_id: str, card_number: str | None = None) -> str:
        """Approve a card payment; return the completed URL. A paid checkout just gives its URL again."""
        with self.lock:
            checkout, order = self._open_order(checkout_id)
            replay = self._replay_url(checkout, order)
            if replay is not None:
                return replay
            self._require_created(order)
            digits = "".join(ch for ch in (card_number or "") if ch.isdigit())
            if digits == DECLINE_CARD:
                self._decline(order, card_number)
                raise PaymentDeclined("the card was declined")
            payment = self._new_card_payment(order, "COMPLETED", card_number)
            self.transition(order, "COMPLETED")
            self._emit("payment.purchase", payment.payment_id)
            return self._completed_url(checkout, payment.payment_id)

    def decline(self, checkout_id: str, card_number: str | None = None) -> str:
        """Record a REJECTED payment (order stays CREATED or becomes FAILED); return the payment id."""
        with self.lock:
            _, order = self._open_order(checkout_id)
            self._require_created(order)
            return self._decline(order, card_number)

    def _decline(self, order: OrderRecord, card_number: str | None) -> str:
        payment = self._new_card_payment(order, "REJECTED", card_number)
        if self.settings.decline_marks_order_failed:
            self.transition(order, "FAILED")
        if self.settings.emit_cancel_events:
            self._emit("payment.cancel", payment.payment_id)
        return payment.payment_id

    def pay_pending(self, checkout_id: str) -> str:
        """Start a SPEI payment: payment and order PAYMENT_ACTION_REQUIRED; return the completed URL anyway."""
        with self.lock:
            checkout, order = self._open_order(checkout_id)
            replay = self._replay_url(checkout, order)
            if replay is not None:
                return replay
            self._require_created(order)
            payment = self._new_payment(order, "PAYMENT_ACTION_REQUIRED", spei_source())
            payment.transactions.append(self._transaction(order, "PURCHASE", "PENDING", "PENDING", "Awaiting transfer"))
            self.transition(order, "PAYMENT_ACTION_REQUIRED")
            return self._completed_url(checkout, payment.payment_id)

    def cancel(self, checkout_id: str) -> str:
        """The buyer cancels: order CANCELED (or stays CREATED); return the canceled URL."""
        with self.lock:
            checkout, order = self._open_order(checkout_id)
            if order.status != "CANCELED":
                self._require_created(order)
                if self.settings.cancel_marks_order_canceled:
                    self.transition(order, "CANCELED")
                if self.settings.emit_cancel_events:
                    self._emit("payment.cancel", self._payment_for_cancel(order))
            params = [("order_id", checkout.order_id), ("checkout_id", checkout.checkout_id)]
            return append_query(checkout.canceled_redirect_url, params)

    def _payment_for_cancel(self, order: OrderRecord) -> str:
        """The payment a ``payment.cancel`` event carries: the latest attempt, or a new CANCELED one."""
        if order.payment_ids:
            return order.payment_ids[-1]
        amount = {"authorized": 0, "currency": order.echo["currency"]}
        return self._new_payment(order, "CANCELED", {"type": "CARD"}, amount).payment_id

    def settle(self, payment_id: str) -> None:
        """A pending (SPEI) payment is paid: payment and order COMPLETED, ``payment.purchase`` emitted."""
        with self.lock:
            payment = self.payments[payment_id]
            if payment.status != "PAYMENT_ACTION_REQUIRED":
                raise FakeGatewayError(f"payment {payment_id} is {payment.status}, not PAYMENT_ACTION_REQUIRED")
            order = self.orders[payment.order_id]
            self.transition(order, "COMPLETED")
            total = order.echo["total_amount"]
            payment.amount = {"authorized": total, "captured": total, "currency": order.echo["currency"]}
            for transaction in payment.transactions:
                transaction.update(status="SUCCESS", code="APPROVED", message="Approved")
            self._set_payment_status(payment, "COMPLETED")
            self._emit("payment.purchase", payment_id)

    def expire_checkout(self, checkout_id: str) -> None:
        """Make a checkout's order expire now (CREATED or pending orders become EXPIRED)."""
        with self.lock:
            order = self.orders[self.checkouts[checkout_id].order_id]
            order.expires_ms = min(order.expires_ms, self.now_ms() - 1)
            if order.status in ("CREATED", "PAYMENT_ACTION_REQUIRED"):
                self.transition(order, "EXPIRED")

    # refunds -------------------------------------------------------------------------------------------------

    def refund(self, payment_id: str, amount: Any, description: str | None) -> dict[str, Any]:
        """Refund part or all of a paid payment; return the REFUND transaction (RefundError for a 400)."""
        with self.lock:
            payment = self.payments[payment_id]
            self._check_refundable(payment, to_decimal(amount))
            order = self.orders[payment.order_id]
            if self.settings.decline_refunds:
                failed = self._refund_transaction(order, amount, description, "FAILED", "Refund declined by the bank")
                payment.transactions.append(failed)
                return dict(failed)
            transaction = self._refund_transaction(order, amount, description, "SUCCESS", "Refund approved")
            payment.transactions.append(transaction)
            refunded = payment.amount.get("refunded", 0) + amount
            payment.amount["refunded"] = refunded
            full = to_decimal(refunded) >= to_decimal(payment.amount["captured"])
            status = "REFUNDED" if full else "PARTIALLY_REFUNDED"
            self._set_payment_status(payment, status)
            if order.status in ORDER_TRANSITIONS and status in ORDER_TRANSITIONS[order.status]:
                self.transition(order, status)
            self._emit("payment.refund", payment_id)
            return dict(transaction)

    def _check_refundable(self, payment: PaymentRecord, amount: Decimal) -> None:
        if not self.settings.refunds_enabled:
            raise RefundError("Refunds from e-commerce are not enabled for this merchant")
        if payment.status not in REFUNDABLE_PAYMENT_STATUSES:
            raise RefundError(f"Payment {payment.payment_id} cannot be refunded in status {payment.status}")
        balance = to_decimal(payment.amount["captured"]) - to_decimal(payment.amount.get("refunded", 0))
        if amount <= 0 or amount > balance:
            raise RefundError(f"The refund amount must be greater than 0 and at most the refundable {balance}")

    def _refund_transaction(
        self, order: OrderRecord, amount: Any, description: str | None, status: str, text: str
    ) -> dict[str, Any]:
        transaction = self._transaction(
            order, "REFUND", status, "APPROVED" if status == "SUCCESS" else "DECLINED", text
        )
        transaction["amount"] = amount
        transaction["description"] = description or transaction["description"]
        return transaction

    # payment helpers -----------------------------------------------------------------------------------------

    def _new_payment(
        self, order: OrderRecord, status: str, source: dict[str, Any], amount: dict[str, Any] | None = None
    ) -> PaymentRecord:
        now = self.now_ms()
        currency = order.echo["currency"]
        payment = PaymentRecord(
            new_id("pay"),
            order.order_id,
            status,
            amount or {"authorized": 0, "currency": currency},
            source,
            [],
            now,
            now,
        )
        self.payments[payment.payment_id] = payment
        order.payment_ids.append(payment.payment_id)
        order.updated_ms = now
        return payment

    def _new_card_payment(self, order: OrderRecord, status: str, card_number: str | None) -> PaymentRecord:
        source = card_source(card_number, order.echo["customer"])
        payment = self._new_payment(order, status, source)
        total = order.echo["total_amount"]
        if status == "COMPLETED":
            payment.amount = {"authorized": total, "captured": total, "currency": order.echo["currency"]}
            payment.transactions.append(self._transaction(order, "PURCHASE", "SUCCESS", "APPROVED", "Approved"))
        else:
            declined = self._transaction(order, "PURCHASE", "FAILED", "DECLINED", "Your card was declined.")
            payment.transactions.append(declined)
        return payment

    def _transaction(self, order: OrderRecord, kind: str, status: str, code: str, text: str) -> dict[str, Any]:
        return {
            "transaction_id": new_id("ctx"),
            "type": kind,
            "status": status,
            "code": code,
            "message": text,
            "amount": order.echo["total_amount"],
            "authorization_code": os.urandom(3).hex().upper() if status == "SUCCESS" else None,
            "description": order.order_id,
            "created_at": str(self.now_ms()),
            "provider": {
                "name": "FakeProvider",
                "provider_id": "prc_fakeprovider",
                "merchant_provider_id": self.merchant_provider_id,
                "provider_transaction_id": new_id("fk"),
                "code": code,
                "message": text,
            },
        }

    def _set_payment_status(self, payment: PaymentRecord, status: str) -> None:
        payment.status = status
        payment.updated_ms = self.now_ms()


def _copy(value: Any) -> Any:
    """A deep copy of a JSON value (dicts, lists, scalars)."""
    if isinstance(value, dict):
        return {key: _copy(item) for key, item in value.items()}
    if isinstance(value, list):
        return [_copy(item) for item in value]
    return value
