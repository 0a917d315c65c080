"""The API's read views of the fake gateway: orders, checkouts, payments and an order's payments, as fresh dicts.

``ApiViews`` renders the records of the shared ``Store`` in the rich profile's shapes and, in the evidence profile,
cuts them down with the projections of ``profiles`` (``GET /v1/orders/{id}`` without ``payments``, payments
without ``captured``, ...). ``page_view`` is what the hosted page shows, the same in both profiles. Lookups that may
change a record (an order's lazy expiry) go through the ``OrderBook``. Amounts are the very JSON numbers the
client sent.
"""

from __future__ import annotations

from typing import Any

from . import profiles
from .orders import OrderBook
from .records import CheckoutRecord, OrderRecord, PaymentRecord, Settings, Store, copy_json


class ApiViews:
    """The read views of the API (and the hosted page) over the shared ``Store``."""

    def __init__(self, store: Store, settings: Settings, book: OrderBook) -> None:
        self.store = store
        self.settings = settings
        self.book = book

    def _order_view(self, order: OrderRecord) -> dict[str, Any]:
        view: dict[str, Any] = {"order_id": order.order_id, "status": order.status}
        view["expires_at"] = str(order.expires_ms)
        view.update(copy_json(order.echo))
        view["created_at"] = str(order.created_ms)
        view["updated_at"] = str(order.updated_ms)
        view["payments"] = [{"payment_id": p, "status": self.store.payments[p].status} for p in order.payment_ids]
        if order.payment_ids:
            view["payment_id"] = order.payment_ids[-1]
        return view

    def order_view(self, order_id: str) -> dict[str, Any]:
        """``GET /v1/orders/{id}``."""
        with self.store.lock:
            view = self._order_view(self.book.order(order_id))
        if profiles.is_evidence(self.settings):
            return profiles.order_read(view, self.settings.order_read_fields)
        return view

    def full_order_view(self, order_id: str) -> dict[str, Any]:
        """The rich profile's order view, whatever the profile (for the hosted page and the 2024-07 events)."""
        with self.store.lock:
            return self._order_view(self.book.order(order_id))

    def page_address(self, checkout: CheckoutRecord) -> str:
        """The hosted page's own address, ``{page}/checkout/{checkout_id}``."""
        return f"{self.settings.page_base_url()}/checkout/{checkout.checkout_id}"

    def checkout_redirect_url(self, checkout: CheckoutRecord) -> str:
        """Where the shop sends the buyer, in the ``checkout_url_form`` in force."""
        if self.settings.checkout_url_form == "guide":
            return f"{self.settings.page_base_url()}/#/checkout/{checkout.checkout_id}/{checkout.page_token}"
        return self.page_address(checkout)

    def _checkout_view(self, checkout: CheckoutRecord, order: dict[str, Any]) -> dict[str, Any]:
        return {
            "checkout_id": checkout.checkout_id,
            "checkout_redirect_url": self.checkout_redirect_url(checkout),
            "completed_redirect_url": checkout.completed_redirect_url,
            "canceled_redirect_url": checkout.canceled_redirect_url,
            "allow_save_payment_methods": checkout.allow_save_payment_methods,
            "locale": checkout.locale,
            "placed_at": str(checkout.placed_ms),
            "order": order,
        }

    def checkout_view(self, checkout_id: str) -> dict[str, Any]:
        """``GET /v1/checkouts/{id}`` (and the create answer): the checkout with its current order."""
        with self.store.lock:
            checkout = self.book.checkout(checkout_id)
            view = self._checkout_view(checkout, self._order_view(self.book.order(checkout.order_id)))
        return profiles.checkout(view) if profiles.is_evidence(self.settings) else view

    def page_view(self, checkout_id: str) -> dict[str, Any]:
        """What the hosted page shows, whatever the profile: the rich checkout view, its order in ``page_status``
        and its ``checkout_redirect_url`` the page's own address (where its forms post)."""
        with self.store.lock:
            checkout = self.book.checkout(checkout_id)
            order = self.book.order(checkout.order_id)
            view = self._checkout_view(checkout, self._order_view(order))
            view["checkout_redirect_url"] = self.page_address(checkout)
            view["order"]["status"] = self.book.page_status(order)
            return view

    def _payment_view(self, payment: PaymentRecord) -> dict[str, Any]:
        order = self.store.orders[payment.order_id]
        return {
            "payment_id": payment.payment_id,
            "order_id": payment.order_id,
            "merchant_id": self.store.merchant_id,
            "merchant_order_id": order.echo["merchant_order_id"],
            "is_payment_link": False,
            "device_session_id": payment.device_session_id,
            "status": payment.status,
            "amount": copy_json(payment.amount),
            "payment_source": copy_json(payment.source),
            "transactions": copy_json(payment.transactions),
            "created_at": str(payment.created_ms),
            "updated_at": str(payment.updated_ms),
        }

    def payment_view(self, payment_id: str) -> dict[str, Any]:
        """``GET /v1/payments/{id}``: the payment object of reference section 8."""
        with self.store.lock:
            view = self._payment_view(self.store.payments[payment_id])
        return profiles.payment(view) if profiles.is_evidence(self.settings) else view

    def order_payments_view(self, order_id: str) -> dict[str, Any]:
        """``GET /v1/orders/{id}/payments``: a Spring-style page, in creation order."""
        with self.store.lock:
            content = [self._payment_view(self.store.payments[p]) for p in self.book.order(order_id).payment_ids]
        if profiles.is_evidence(self.settings):
            return profiles.order_payments({"content": content})
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

    def order_views(self) -> dict[str, dict[str, Any]]:
        """Snapshot of every order in API shape, keyed by order id."""
        with self.store.lock:
            return {order_id: self.order_view(order_id) for order_id in list(self.store.orders)}

    def checkout_views(self) -> dict[str, dict[str, Any]]:
        """Snapshot of every checkout in API shape, keyed by checkout id."""
        with self.store.lock:
            return {cid: self.checkout_view(cid) for cid in list(self.store.checkouts)}

    def payment_views(self) -> dict[str, dict[str, Any]]:
        """Snapshot of every payment in API shape, keyed by payment id."""
        with self.store.lock:
            return {pid: self.payment_view(pid) for pid in list(self.store.payments)}
