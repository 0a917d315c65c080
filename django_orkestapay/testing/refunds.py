"""Refunds of the fake gateway: ``POST /v1/payments/{id}/refund`` on the state, and refunds made elsewhere.

``RefundDesk`` checks that a payment may be refunded (the merchant setting, the payment's status, the balance left
after refunds done or still pending), appends the REFUND transaction and answers as ``refund_outcome`` says:
``success`` (SUCCESS: the payment and its order move to PARTIALLY_REFUNDED or REFUNDED and ``payment.refund`` is
published), ``pending`` (PENDING: nothing moves until :meth:`RefundDesk.settle_refund`) or ``declined`` (FAILED).
:meth:`RefundDesk.refund_from_portal` is a refund an operator makes in OrkestaPay's portal: no idempotency key, no
merchant setting, published like any other. A refusal is a ``RefundError`` (the API's 400).

In the evidence profile a refund changes no status (no source shows PARTIALLY_REFUNDED or REFUNDED, on an order or a
payment: the order stays COMPLETED), the payment's views do not show it (``amount.refunded`` and REFUND
transactions are unknown, U19), and a pending refund that fails publishes nothing (``payment.refund`` is documented
as "a refund is issued"). The refunded total is still kept, so the balance check refuses an over-refund.
"""

from __future__ import annotations

from decimal import Decimal
from typing import Any

from . import profiles
from ._util import to_decimal
from .orders import OrderBook
from .payments import PaymentDesk
from .records import (
    ORDER_TRANSITIONS,
    REFUNDABLE_PAYMENT_STATUSES,
    FakeGatewayError,
    OrderRecord,
    PaymentRecord,
    RefundError,
    Settings,
    Store,
)

#: What ``refund_outcome`` may be: the REFUND transaction's status and its provider code and message.
REFUND_OUTCOMES = {
    "success": ("SUCCESS", "APPROVED", "Refund approved"),
    "pending": ("PENDING", "PENDING", "Refund in process"),
    "declined": ("FAILED", "DECLINED", "Refund declined by the bank"),
}


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
            if not self.settings.refunds_enabled:
                raise RefundError("Refunds from e-commerce are not enabled for this merchant")
            self._check_refundable(payment, to_decimal(amount))
            status, code, text = REFUND_OUTCOMES[self.settings.refund_outcome]
            transaction = self._refund_transaction(payment, amount, description, status, code, text)
            if status == "SUCCESS":
                self._refunded(payment, amount)
            return dict(transaction)

    def refund_from_portal(self, payment_id: str, amount: Any) -> dict[str, Any]:
        """An operator refunds in OrkestaPay's portal (not through the API): it succeeds and is published."""
        with self.store.lock:
            payment = self.store.payments[payment_id]
            self._check_refundable(payment, to_decimal(amount))
            success = REFUND_OUTCOMES["success"]
            transaction = self._refund_transaction(payment, amount, "Refund from the portal", *success)
            self._refunded(payment, amount)
            return dict(transaction)

    def settle_refund(self, transaction_id: str, *, succeed: bool = True) -> dict[str, Any]:
        """A PENDING refund finishes: SUCCESS (the payment's refunded amount grows) or FAILED; ``payment.refund``
        is published either way. KeyError for an unknown transaction, FakeGatewayError when it is not pending."""
        with self.store.lock:
            payment, transaction = self._pending_refund(transaction_id)
            status, code, text = REFUND_OUTCOMES["success" if succeed else "declined"]
            transaction.update(status=status, code=code, message=text)
            transaction["provider"].update(code=code, message=text)
            if succeed:
                self._refunded(payment, transaction["amount"])
            elif not profiles.is_evidence(self.settings):
                payment.updated_ms = self.store.now_ms()
                self.desk.emit("payment.refund", payment.payment_id)
            return dict(transaction)

    def _pending_refund(self, transaction_id: str) -> tuple[PaymentRecord, dict[str, Any]]:
        for payment in self.store.payments.values():
            for transaction in payment.transactions:
                if transaction["transaction_id"] == transaction_id and transaction["type"] == "REFUND":
                    if transaction["status"] != "PENDING":
                        raise FakeGatewayError(f"refund {transaction_id} is {transaction['status']}, not PENDING")
                    return payment, transaction
        raise KeyError(transaction_id)

    def _refunded(self, payment: PaymentRecord, amount: Any) -> None:
        """Money left: the payment's refunded amount grows, it and its order move on, ``payment.refund`` goes out."""
        refunded = payment.amount.get("refunded", 0) + amount
        payment.amount["refunded"] = refunded
        if profiles.is_evidence(self.settings):
            payment.updated_ms = self.store.now_ms()
        else:
            full = to_decimal(refunded) >= to_decimal(payment.amount["captured"])
            status = "REFUNDED" if full else "PARTIALLY_REFUNDED"
            self.desk.set_payment_status(payment, status)
            order = self.store.orders[payment.order_id]
            if order.status in ORDER_TRANSITIONS and status in ORDER_TRANSITIONS[order.status]:
                self.book.transition(order, status)
        self.desk.emit("payment.refund", payment.payment_id)

    def _check_refundable(self, payment: PaymentRecord, amount: Decimal) -> None:
        if payment.status not in REFUNDABLE_PAYMENT_STATUSES:
            raise RefundError(f"Payment {payment.payment_id} cannot be refunded in status {payment.status}")
        pending = sum(
            (
                to_decimal(t["amount"])
                for t in payment.transactions
                if t["type"] == "REFUND" and t["status"] == "PENDING"
            ),
            start=Decimal(0),
        )
        balance = to_decimal(payment.amount["captured"]) - to_decimal(payment.amount.get("refunded", 0)) - pending
        if amount <= 0 or amount > balance:
            raise RefundError(f"The refund amount must be greater than 0 and at most the refundable {balance}")

    def _refund_transaction(
        self, payment: PaymentRecord, amount: Any, description: str | None, status: str, code: str, text: str
    ) -> dict[str, Any]:
        order: OrderRecord = self.store.orders[payment.order_id]
        transaction = self.desk.transaction(order, "REFUND", status, code, text)
        transaction["amount"] = amount
        transaction["description"] = description or transaction["description"]
        payment.transactions.append(transaction)
        return transaction
