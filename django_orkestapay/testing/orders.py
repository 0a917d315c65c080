"""Orders and checkouts of the fake gateway: creation, lookups, the API views and the guarded state machine.

``OrderBook`` creates a checkout and its order from a validated request body, looks records up (an order past its
``expires_at`` while still CREATED turns EXPIRED on the next look), renders every read view the API returns (order,
checkout, payment, an order's payments) as fresh dicts, moves orders along ``ORDER_TRANSITIONS`` and offers the test
back doors (force a status, tamper with what the API reports). Amounts are the very JSON numbers the client sent.
"""

from __future__ import annotations

from typing import Any

from ._util import new_id
from .records import (
    COUNTRY_NAMES,
    ORDER_TRANSITIONS,
    CheckoutRecord,
    InvalidTransition,
    OrderRecord,
    PaymentRecord,
    Settings,
    Store,
    copy_json,
)

_ORDER_ECHO_KEYS = ("shipping_details", "shipping_address", "billing_address")


class OrderBook:
    """Checkouts and orders on the shared ``Store``: create, look up, view, transition."""

    def __init__(self, store: Store, settings: Settings) -> None:
        self.store = store
        self.settings = settings

    # creation ------------------------------------------------------------------------------------------------

    def create_checkout(self, body: dict[str, Any]) -> dict[str, Any]:
        """Create a checkout and its order from a validated request body; return the API view."""
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
        with self.store.lock:
            return self.store.checkouts[checkout_id]

    def order(self, order_id: str) -> OrderRecord:
        """The order record, lazily EXPIRED once ``expires_at`` passed while still CREATED (KeyError if unknown)."""
        with self.store.lock:
            order = self.store.orders[order_id]
            if order.status == "CREATED" and self.store.now_ms() >= order.expires_ms:
                self.transition(order, "EXPIRED")
            return order

    def payment(self, payment_id: str) -> PaymentRecord:
        with self.store.lock:
            return self.store.payments[payment_id]

    def order_view(self, order_id: str) -> dict[str, Any]:
        """``GET /v1/orders/{id}``."""
        with self.store.lock:
            order = self.order(order_id)
            view: dict[str, Any] = {"order_id": order.order_id, "status": order.status}
            view["expires_at"] = str(order.expires_ms)
            view.update(copy_json(order.echo))
            view["created_at"] = str(order.created_ms)
            view["updated_at"] = str(order.updated_ms)
            view["payments"] = [{"payment_id": p, "status": self.store.payments[p].status} for p in order.payment_ids]
            if order.payment_ids:
                view["payment_id"] = order.payment_ids[-1]
            return view

    def checkout_view(self, checkout_id: str) -> dict[str, Any]:
        """``GET /v1/checkouts/{id}`` (and the create answer): the checkout with its current order."""
        with self.store.lock:
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
        with self.store.lock:
            payment = self.store.payments[payment_id]
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

    def order_payments_view(self, order_id: str) -> dict[str, Any]:
        """``GET /v1/orders/{id}/payments``: a Spring-style page, in creation order."""
        with self.store.lock:
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
