"""Refunds of the fake gateway: ``POST /v1/payments/{id}/refund`` on the state.

``RefundDesk`` checks that a payment may be refunded (the merchant setting, the payment's status, the balance),
appends the REFUND transaction (a FAILED one when ``decline_refunds`` is on), moves the payment and its order to
PARTIALLY_REFUNDED or REFUNDED and publishes ``payment.refund``. A refusal is a ``RefundError`` (the API's 400).
"""

from __future__ import annotations

from decimal import Decimal
from typing import Any

from ._util import to_decimal
from .orders import OrderBook
from .payments import PaymentDesk
from .records import (
    ORDER_TRANSITIONS,
    REFUNDABLE_PAYMENT_STATUSES,
    OrderRecord,
    PaymentRecord,
    RefundError,
    Settings,
    Store,
)


class RefundDesk:
    """Refunds of paid payments, on the shared ``Store``."""

    def __init__(self, store: Store, settings: Settings, book: OrderBook, desk: PaymentDesk) -> None:
        self.store = store
        self.settings = settings
        self.book = book
        self.desk = desk

    def refund(self, payment_id: str, amount: Any, description: str | None) -> dict[str, Any]:
        """Refund part or all of a paid payment; return the REFUND transaction (RefundError for a 400)."""
        with self.store.lock:
            payment = self.store.payments[payment_id]
            self._check_refundable(payment, to_decimal(amount))
            order = self.store.orders[payment.order_id]
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
            self.desk.set_payment_status(payment, status)
            if order.status in ORDER_TRANSITIONS and status in ORDER_TRANSITIONS[order.status]:
                self.book.transition(order, status)
            self.desk.emit("payment.refund", payment_id)
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
        transaction = self.desk.transaction(
            order, "REFUND", status, "APPROVED" if status == "SUCCESS" else "DECLINED", text
        )
        transaction["amount"] = amount
        transaction["description"] = description or transaction["description"]
        return transaction
