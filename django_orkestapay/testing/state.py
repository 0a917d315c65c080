"""The fake gateway's in-memory state: tokens, checkouts, orders, payments and their guarded transitions.

``GatewayState`` is the one state object the rest of the fake holds: a ``Store`` (the records behind one re-entrant
lock) composed with the parts that change it, each in its own module: ``TokenIssuer`` (tokens), ``OrderBook``
(orders, checkouts, the state machine), ``ApiViews`` (the read views, per profile), ``PaymentDesk`` (the hosted
page's actions, settling, expiry) and ``RefundDesk`` (refunds). Its methods delegate to them. Nothing here knows
about HTTP. Views (``*_view``) return fresh dicts in the API's shapes; amounts are the very JSON numbers the client
sent. The records, errors and constants live in ``records``.
"""

from __future__ import annotations

from collections.abc import Callable
from typing import Any

from .orders import OrderBook
from .payments import PaymentDesk
from .records import CheckoutRecord, OrderRecord, PaymentRecord, Publisher, Settings, Store
from .refunds import RefundDesk
from .tokens import TokenIssuer
from .views import ApiViews


class GatewayState(Store):
    """All mutable state of one fake gateway, behind ``self.lock``."""

    def __init__(self, settings: Settings, clock: Callable[[], float], publish: Publisher) -> None:
        super().__init__(clock)
        self.settings = settings
        self.publish = publish
        self.issuer = TokenIssuer(self, settings)
        self.book = OrderBook(self, settings)
        self.views = ApiViews(self, settings, self.book)
        self.desk = PaymentDesk(self, settings, self.book, self.views, publish)
        self.refund_desk = RefundDesk(self, settings, self.book, self.desk)

    # tokens --------------------------------------------------------------------------------------------------

    def issue_token(self, client_id: str, issuer: str) -> dict[str, Any]:
        """Issue a JWT-shaped Bearer token valid for ``token_lifetime`` seconds."""
        return self.issuer.issue_token(client_id, issuer)

    def token_client(self, token: str) -> str | None:
        """The client id of a known, unexpired token, else None."""
        return self.issuer.token_client(token)

    def expire_tokens(self) -> None:
        """Make every issued token expired (the next API call with one gets 401)."""
        self.issuer.expire_tokens()

    # orders and checkouts ------------------------------------------------------------------------------------

    def create_checkout(self, body: dict[str, Any]) -> dict[str, Any]:
        """Create a checkout and its order from a validated request body; return the API view."""
        return self.views.checkout_view(self.book.create_checkout(body).checkout_id)

    def checkout(self, checkout_id: str) -> CheckoutRecord:
        """The checkout record (KeyError when unknown)."""
        return self.book.checkout(checkout_id)

    def order(self, order_id: str) -> OrderRecord:
        """The order record, lazily EXPIRED once ``expires_at`` passed while still CREATED (KeyError if unknown)."""
        return self.book.order(order_id)

    def payment(self, payment_id: str) -> PaymentRecord:
        """The payment record (KeyError when unknown)."""
        return self.book.payment(payment_id)

    def order_view(self, order_id: str) -> dict[str, Any]:
        """``GET /v1/orders/{id}``."""
        return self.views.order_view(order_id)

    def checkout_view(self, checkout_id: str) -> dict[str, Any]:
        """``GET /v1/checkouts/{id}`` (and the create answer): the checkout with its current order."""
        return self.views.checkout_view(checkout_id)

    def page_view(self, checkout_id: str) -> dict[str, Any]:
        """What the hosted page shows of a checkout (the same in both profiles)."""
        return self.views.page_view(checkout_id)

    def payment_view(self, payment_id: str) -> dict[str, Any]:
        """``GET /v1/payments/{id}``: the payment object of reference section 8."""
        return self.views.payment_view(payment_id)

    def order_payments_view(self, order_id: str) -> dict[str, Any]:
        """``GET /v1/orders/{id}/payments``: a Spring-style page, in creation order."""
        return self.views.order_payments_view(order_id)

    def merchant_order_ids(self) -> frozenset[str]:
        """Every ``merchant_order_id`` an order was created with."""
        return self.book.merchant_order_ids()

    def order_views(self) -> dict[str, dict[str, Any]]:
        """Snapshot of every order in API shape, keyed by order id."""
        return self.views.order_views()

    def checkout_views(self) -> dict[str, dict[str, Any]]:
        """Snapshot of every checkout in API shape, keyed by checkout id."""
        return self.views.checkout_views()

    def payment_views(self) -> dict[str, dict[str, Any]]:
        """Snapshot of every payment in API shape, keyed by payment id."""
        return self.views.payment_views()

    def transition(self, order: OrderRecord, status: str) -> None:
        """Move an order along the guarded state machine (InvalidTransition otherwise)."""
        self.book.transition(order, status)

    def force_status(self, order_id: str, status: str) -> None:
        """Test back door: set an order's status without the guard."""
        self.book.force_status(order_id, status)

    def tamper_order(self, order_id: str, fields: dict[str, Any]) -> None:
        """Test back door: overwrite fields the API returns for an order (payments keep their own amounts)."""
        self.book.tamper_order(order_id, fields)

    # hosted-page actions and payments ------------------------------------------------------------------------

    def pay(self, checkout_id: str, card_number: str | None = None) -> str:
        """Approve a card payment; return the completed URL. A paid checkout just gives its URL again."""
        return self.desk.pay(checkout_id, card_number)

    def decline(self, checkout_id: str, card_number: str | None = None) -> str:
        """Record a REJECTED payment (order stays CREATED or becomes FAILED); return the payment id."""
        return self.desk.decline(checkout_id, card_number)

    def pay_pending(self, checkout_id: str) -> str:
        """Start a SPEI payment: payment and order PAYMENT_ACTION_REQUIRED; return the completed URL anyway."""
        return self.desk.pay_pending(checkout_id)

    def cancel(self, checkout_id: str) -> str:
        """The buyer cancels: order CANCELED (or stays CREATED); return the canceled URL."""
        return self.desk.cancel(checkout_id)

    def settle(self, payment_id: str) -> None:
        """A pending (SPEI) payment is paid: payment and order COMPLETED, ``payment.purchase`` emitted."""
        self.desk.settle(payment_id)

    def expire_checkout(self, checkout_id: str) -> None:
        """Make a checkout's order expire now (CREATED or pending orders become EXPIRED)."""
        self.desk.expire_checkout(checkout_id)

    # refunds -------------------------------------------------------------------------------------------------

    def refund(self, payment_id: str, amount: Any, description: str | None) -> dict[str, Any]:
        """Refund part or all of a paid payment; return the REFUND transaction (RefundError for a 400)."""
        return self.refund_desk.refund(payment_id, amount, description)

    def refund_from_portal(self, payment_id: str, amount: Any) -> dict[str, Any]:
        """A refund made in OrkestaPay's portal: no idempotency key, succeeds, publishes ``payment.refund``."""
        return self.refund_desk.refund_from_portal(payment_id, amount)

    def settle_refund(self, transaction_id: str, *, succeed: bool = True) -> dict[str, Any]:
        """A PENDING refund finishes (SUCCESS or FAILED) and ``payment.refund`` is published."""
        return self.refund_desk.settle_refund(transaction_id, succeed=succeed)
