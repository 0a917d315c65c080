"""Payments of the fake gateway: what the buyer does on the hosted page, and what happens to a payment afterwards.

``PaymentDesk`` carries out the hosted page's actions on the shared ``Store`` (pay by card, a declined card, a pending
SPEI transfer, cancel), settles a pending payment, expires a checkout, and builds the payment records, their
sources and transactions. It moves orders through ``OrderBook.transition`` and announces payments through the
``Publisher`` (the webhook events ``payment.purchase`` and ``payment.cancel``). Everything runs under the store's
lock.

In the evidence profile an order moves only between the two statuses a source shows, CREATED and COMPLETED: it stays
CREATED while a SPEI payment is pending, after a decline, a cancel (the profile's preset) and its ``expires_at``
(the hosted page refuses it then; a pending payment may still settle).
"""

from __future__ import annotations

import os
from typing import Any

from . import profiles
from ._util import new_id
from .orders import OrderBook
from .records import (
    DECLINE_CARD,
    DEFAULT_CARD,
    PAID_STATUSES,
    CheckoutClosed,
    CheckoutExpired,
    CheckoutRecord,
    FakeGatewayError,
    OrderRecord,
    PaymentDeclined,
    PaymentRecord,
    Publisher,
    Settings,
    Store,
)
from .views import ApiViews

_PENDING = frozenset({"PAYMENT_ACTION_REQUIRED"})


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


class PaymentDesk:
    """The buyer's actions and the payment records they create, on the shared ``Store``."""

    def __init__(self, store: Store, settings: Settings, book: OrderBook, views: ApiViews, publish: Publisher) -> None:
        self.store = store
        self.settings = settings
        self.book = book
        self.views = views
        self.publish = publish

    def emit(self, event_type: str, payment_id: str) -> None:
        """Publish a webhook event carrying the payment as the API shows it now (and its order, for the 2024-07
        payload, in the rich shape that payload's fields come from)."""
        payment = self.views.payment_view(payment_id)
        self.publish(event_type, payment, self.views.full_order_view(payment["order_id"]))

    # hosted-page actions -------------------------------------------------------------------------------------

    def _open_order(self, checkout_id: str) -> tuple[CheckoutRecord, OrderRecord]:
        checkout = self.book.checkout(checkout_id)
        return checkout, self.book.order(checkout.order_id)

    def _completed_url(self, checkout: CheckoutRecord, payment_id: str | None) -> str:
        return self.book.return_url(checkout, "completed", payment_id)

    def _replay_url(self, checkout: CheckoutRecord, order: OrderRecord) -> str | None:
        """The redirect of an already paid (or pending) checkout, or None when it is still open."""
        if order.status in PAID_STATUSES:
            return self._completed_url(checkout, self.book.latest_payment(order, PAID_STATUSES))
        if self.book.page_status(order) == "PAYMENT_ACTION_REQUIRED":
            return self._completed_url(checkout, self.book.latest_payment(order, _PENDING))
        return None

    def _require_created(self, order: OrderRecord) -> None:
        if self.book.page_status(order) == "EXPIRED":
            raise CheckoutExpired(f"order {order.order_id} has expired")
        if order.status != "CREATED":
            raise CheckoutClosed(f"order {order.order_id} is {order.status}")

    def pay(self, checkout_id: str, card_number: str | None = None) -> str:
        """Approve a card payment; return the completed URL. A paid checkout just gives its URL again."""
        with self.store.lock:
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
            self.book.transition(order, "COMPLETED")
            self.emit("payment.purchase", payment.payment_id)
            return self._completed_url(checkout, payment.payment_id)

    def decline(self, checkout_id: str, card_number: str | None = None) -> str:
        """Record a REJECTED payment (order stays CREATED or becomes FAILED); return the payment id."""
        with self.store.lock:
            _, order = self._open_order(checkout_id)
            self._require_created(order)
            return self._decline(order, card_number)

    def _decline(self, order: OrderRecord, card_number: str | None) -> str:
        payment = self._new_card_payment(order, "REJECTED", card_number)
        if self.settings.decline_marks_order_failed:
            self.book.transition(order, "FAILED")
        if self.settings.emit_cancel_events:
            self.emit("payment.cancel", payment.payment_id)
        return payment.payment_id

    def pay_pending(self, checkout_id: str) -> str:
        """Start a SPEI payment: payment and order PAYMENT_ACTION_REQUIRED; return the completed URL anyway."""
        with self.store.lock:
            checkout, order = self._open_order(checkout_id)
            replay = self._replay_url(checkout, order)
            if replay is not None:
                return replay
            self._require_created(order)
            payment = self._new_payment(order, "PAYMENT_ACTION_REQUIRED", spei_source())
            payment.transactions.append(self.transaction(order, "PURCHASE", "PENDING", "PENDING", "Awaiting transfer"))
            if not profiles.is_evidence(self.settings):
                self.book.transition(order, "PAYMENT_ACTION_REQUIRED")
            return self._completed_url(checkout, payment.payment_id)

    def cancel(self, checkout_id: str) -> str:
        """The buyer cancels: order CANCELED (or stays CREATED); return the canceled URL."""
        with self.store.lock:
            checkout, order = self._open_order(checkout_id)
            if order.status != "CANCELED":
                self._require_created(order)
                if self.settings.cancel_marks_order_canceled:
                    self.book.transition(order, "CANCELED")
                if self.settings.emit_cancel_events:
                    self.emit("payment.cancel", self._payment_for_cancel(order))
            return self.book.return_url(checkout, "canceled", None)

    def _payment_for_cancel(self, order: OrderRecord) -> str:
        """The payment a ``payment.cancel`` event carries: the latest attempt, or a new CANCELED one."""
        if order.payment_ids:
            return order.payment_ids[-1]
        amount = {"authorized": 0, "currency": order.echo["currency"]}
        return self._new_payment(order, "CANCELED", {"type": "CARD"}, amount).payment_id

    def settle(self, payment_id: str) -> None:
        """A pending (SPEI) payment is paid: payment and order COMPLETED, ``payment.purchase`` emitted."""
        with self.store.lock:
            payment = self.store.payments[payment_id]
            if payment.status != "PAYMENT_ACTION_REQUIRED":
                raise FakeGatewayError(f"payment {payment_id} is {payment.status}, not PAYMENT_ACTION_REQUIRED")
            order = self.store.orders[payment.order_id]
            self.book.transition(order, "COMPLETED")
            total = order.echo["total_amount"]
            payment.amount = {"authorized": total, "captured": total, "currency": order.echo["currency"]}
            for transaction in payment.transactions:
                transaction.update(status="SUCCESS", code="APPROVED", message="Approved")
            self.set_payment_status(payment, "COMPLETED")
            self.emit("payment.purchase", payment_id)

    def expire_checkout(self, checkout_id: str) -> None:
        """Make a checkout's order expire now (rich profile: CREATED or pending orders become EXPIRED; evidence
        profile: the order stays CREATED, past its ``expires_at``)."""
        with self.store.lock:
            order = self.store.orders[self.store.checkouts[checkout_id].order_id]
            order.expires_ms = min(order.expires_ms, self.store.now_ms() - 1)
            evidence = profiles.is_evidence(self.settings)
            if order.status in ("CREATED", "PAYMENT_ACTION_REQUIRED") and not evidence:
                self.book.transition(order, "EXPIRED")

    # payment helpers -----------------------------------------------------------------------------------------

    def _new_payment(
        self, order: OrderRecord, status: str, source: dict[str, Any], amount: dict[str, Any] | None = None
    ) -> PaymentRecord:
        now = self.store.now_ms()
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
        self.store.payments[payment.payment_id] = payment
        order.payment_ids.append(payment.payment_id)
        order.updated_ms = now
        return payment

    def _new_card_payment(self, order: OrderRecord, status: str, card_number: str | None) -> PaymentRecord:
        source = card_source(card_number, order.echo["customer"])
        payment = self._new_payment(order, status, source)
        total = order.echo["total_amount"]
        if status == "COMPLETED":
            payment.amount = {"authorized": total, "captured": total, "currency": order.echo["currency"]}
            payment.transactions.append(self.transaction(order, "PURCHASE", "SUCCESS", "APPROVED", "Approved"))
        else:
            declined = self.transaction(order, "PURCHASE", "FAILED", "DECLINED", "Your card was declined.")
            payment.transactions.append(declined)
        return payment

    def transaction(self, order: OrderRecord, kind: str, status: str, code: str, text: str) -> dict[str, Any]:
        """A new transaction of ``kind`` (PURCHASE, REFUND) on the order's total, as the payment object lists it."""
        return {
            "transaction_id": new_id("ctx"),
            "type": kind,
            "status": status,
            "code": code,
            "message": text,
            "amount": order.echo["total_amount"],
            "authorization_code": os.urandom(3).hex().upper() if status == "SUCCESS" else None,
            "description": order.order_id,
            "created_at": str(self.store.now_ms()),
            "provider": {
                "name": "FakeProvider",
                "provider_id": "prc_fakeprovider",
                "merchant_provider_id": self.store.merchant_provider_id,
                "provider_transaction_id": new_id("fk"),
                "code": code,
                "message": text,
            },
        }

    def set_payment_status(self, payment: PaymentRecord, status: str) -> None:
        """Set a payment's status and its ``updated_at``."""
        payment.status = status
        payment.updated_ms = self.store.now_ms()
