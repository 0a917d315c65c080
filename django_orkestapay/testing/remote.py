"""The fake's test controls as Python methods: inspect it, drive the buyer's scenarios, inject faults, run webhooks.

``RemoteControl`` is what a test calls besides the settings: the request log and counts, snapshots of orders,
checkouts and payments, the hosted page's actions without a browser (pay, decline, cancel, SPEI), the back doors,
fault injection and the webhook controls. ``FakeOrkestaPay`` inherits it; every method works on ``self.core`` (a
``GatewayCore``). The ``/_fake`` HTTP routes in ``control`` offer the same controls to other processes.
"""

from __future__ import annotations

from collections.abc import Iterable
from typing import Any

from .core import GatewayCore
from .faults import Fault, make_fault
from .recording import RecordedRequest
from .webhooks import WebhookAttempt, WebhookEndpoint


class RemoteControl:
    """Inspection, scenario drivers, faults and webhook controls over a ``GatewayCore``."""

    def __init__(self, core: GatewayCore) -> None:
        self.core = core
        self.state = core.state
        self.webhooks = core.webhooks

    # inspection ----------------------------------------------------------------------------------------------

    @property
    def request_log(self) -> list[RecordedRequest]:
        """API requests received (``/v1`` and unknown routes), oldest first."""
        return self.core.log.requests("api")

    @property
    def all_requests(self) -> list[RecordedRequest]:
        """Every request received, including the hosted page and control routes."""
        return self.core.log.requests()

    def count_requests(
        self, method: str | None = None, path: str | None = None, prefix: str | None = None, *, kind: str = "api"
    ) -> int:
        """Count recorded requests by method, exact path and/or path prefix (``kind``: api, page, control, all)."""
        return self.core.log.count(method, path, prefix, kind=kind)

    @property
    def orders(self) -> dict[str, dict[str, Any]]:
        """Snapshot of every order in API shape, keyed by order id."""
        return self.state.order_views()

    @property
    def checkouts(self) -> dict[str, dict[str, Any]]:
        """Snapshot of every checkout in API shape, keyed by checkout id."""
        return self.state.checkout_views()

    @property
    def payments(self) -> dict[str, dict[str, Any]]:
        """Snapshot of every payment in API shape, keyed by payment id."""
        return self.state.payment_views()

    def get_order(self, order_id: str) -> dict[str, Any]:
        """One order in API shape (KeyError when unknown); applies lazy expiry like the API."""
        return self.state.order_view(order_id)

    def get_checkout(self, checkout_id: str) -> dict[str, Any]:
        """One checkout in API shape (KeyError when unknown)."""
        return self.state.checkout_view(checkout_id)

    def get_payment(self, payment_id: str) -> dict[str, Any]:
        """One payment in API shape (KeyError when unknown)."""
        return self.state.payment_view(payment_id)

    # scenario drivers ----------------------------------------------------------------------------------------

    def pay(self, checkout_id: str, card_number: str | None = None) -> str:
        """The buyer pays by card: return the completed URL (+ order_id, payment_id, checkout_id)."""
        return self.state.pay(checkout_id, card_number)

    def decline(self, checkout_id: str) -> None:
        """The buyer's card is declined: a REJECTED payment; the order stays CREATED (or becomes FAILED)."""
        self.state.decline(checkout_id)

    def cancel(self, checkout_id: str) -> str:
        """The buyer cancels: return the canceled URL (+ order_id, checkout_id)."""
        return self.state.cancel(checkout_id)

    def pay_pending(self, checkout_id: str) -> str:
        """The buyer picks SPEI: payment and order PAYMENT_ACTION_REQUIRED; return the completed URL anyway."""
        return self.state.pay_pending(checkout_id)

    def settle(self, payment_id: str) -> None:
        """The pending payment is paid: payment and order COMPLETED, ``payment.purchase`` sent."""
        self.state.settle(payment_id)

    def settle_refund(self, transaction_id: str, *, succeed: bool = True) -> dict[str, Any]:
        """A refund answered PENDING (``refund_outcome = "pending"``) finishes: SUCCESS (the payment's refunded
        amount grows) or FAILED; ``payment.refund`` is sent either way. Returns the REFUND transaction."""
        return self.state.settle_refund(transaction_id, succeed=succeed)

    def refund_from_portal(self, payment_id: str, amount: Any) -> dict[str, Any]:
        """An operator refunds ``amount`` in OrkestaPay's portal, not through the shop: no idempotency key, it
        succeeds and ``payment.refund`` is sent. Returns the REFUND transaction."""
        return self.state.refund_from_portal(payment_id, amount)

    def expire_tokens(self) -> None:
        """Expire every issued access token."""
        self.state.expire_tokens()

    def expire_checkout(self, checkout_id: str) -> None:
        """Expire a checkout now."""
        self.state.expire_checkout(checkout_id)

    def set_order_status(self, order_id: str, status: str) -> None:
        """Test back door: set an order's status, bypassing the state machine."""
        self.state.force_status(order_id, status)

    def tamper_order(self, order_id: str, /, **fields: Any) -> None:
        """Test back door: make the API report other values for an order, e.g. ``total_amount=Decimal("1.00")``,
        ``currency="USD"``, ``merchant_order_id="someone-else"`` (a foreign or replayed order)."""
        self.state.tamper_order(order_id, fields)

    # faults --------------------------------------------------------------------------------------------------

    def inject_fault(
        self,
        method: str,
        path_pattern: str,
        kind: str,
        *,
        times: int = 1,
        status: int | None = None,
        delay: float = 0.0,
        redirect_host: str | None = None,
        after_processing: bool | None = None,
    ) -> Fault:
        """Make the next ``times`` requests matching ``method`` ("*" for any) and ``path_pattern`` misbehave.

        ``path_pattern`` is a shell-style glob whose ``*`` also matches ``/`` (``"/v1/orders/*"``), or with the
        prefix ``re:`` a regular expression matching the whole path (``"re:/v1/orders/[^/]+"``). See
        :mod:`django_orkestapay.testing.faults` for the kinds and the ``after_processing`` defaults.
        """
        fault = make_fault(
            method,
            path_pattern,
            kind,
            times=times,
            status=status,
            delay=delay,
            redirect_host=redirect_host,
            after_processing=after_processing,
        )
        self.core.faults.add(fault)
        return fault

    def clear_faults(self) -> None:
        """Remove every injected fault."""
        self.core.faults.clear()

    @property
    def faults(self) -> list[Fault]:
        """The faults still active."""
        return self.core.faults.snapshot()

    # webhooks ------------------------------------------------------------------------------------------------

    def add_webhook_endpoint(self, url: str, secret: str | None = None, events: Iterable[str] | None = None) -> str:
        """Register a webhook receiver; return its ``whsec_`` secret (generated when not given)."""
        return self.webhooks.add_endpoint(url, secret, events)

    @property
    def webhook_endpoints(self) -> list[WebhookEndpoint]:
        """The registered receivers (url, secret, events)."""
        return list(self.webhooks.endpoints)

    def clear_webhook_endpoints(self) -> None:
        """Forget every registered receiver."""
        self.webhooks.replace_endpoints([])

    def flush_webhooks(self) -> int:
        """Release held webhook messages (manual / out_of_order modes); return how many."""
        return self.webhooks.flush()

    def resend_webhook(self, msg_id: str) -> None:
        """Deliver an already emitted message again (same ``svix-id``)."""
        self.webhooks.resend(msg_id)

    def wait_for_webhooks(self, timeout: float = 5.0) -> bool:
        """Block until no delivery is scheduled or in flight (held messages do not count); False on timeout."""
        return self.webhooks.wait_idle(timeout)

    @property
    def webhook_log(self) -> list[WebhookAttempt]:
        """Every delivery attempt, oldest first."""
        return self.webhooks.log
