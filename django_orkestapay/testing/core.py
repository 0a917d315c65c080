"""The fake gateway without its HTTP server: the parts every request handler and test control works on.

``GatewayCore`` holds the settings, the state, the fault book, the webhook dispatcher and the request log of one
fake. The API and control routes receive it explicitly (the hosted page only needs its state), so none of them
knows ``FakeOrkestaPay``. It also turns state changes into signed webhook messages (``publish``), derives the
validation rules in force (``checkout_rules``) and resets everything but credentials and webhook endpoints (then
runs its ``reset_hooks``: the pytest plugin's makes the app forget the token the fake issued).
"""

from __future__ import annotations

from collections.abc import Callable
from typing import Any

from ._util import dumps_bytes
from .faults import FaultBook
from .recording import RequestLog
from .settings import FakeSettings
from .state import GatewayState
from .validation import CheckoutRules
from .webhook_payloads import build_payload
from .webhooks import WebhookDispatcher


class GatewayCore:
    """Settings, state, faults, webhooks and request log of one fake gateway."""

    def __init__(self, settings: FakeSettings, webhooks: WebhookDispatcher) -> None:
        self.settings = settings
        self.webhooks = webhooks
        self.state = GatewayState(settings, settings.clock, self.publish)
        self.faults = FaultBook()
        self.log = RequestLog()
        #: Called, in order, at the end of every reset (``fake.reset()`` and ``POST /_fake/reset``).
        self.reset_hooks: list[Callable[[], None]] = []

    def publish(self, event_type: str, payment: dict[str, Any], order: dict[str, Any]) -> None:
        """Queue the webhook event for a payment and its order, in the configured payload version."""
        payload = build_payload(self.settings.webhook_payload_version, event_type, payment, order)
        self.webhooks.publish(event_type, dumps_bytes(payload))

    def checkout_rules(self) -> CheckoutRules:
        """The validation rules in force now."""
        settings = self.settings
        return CheckoutRules(
            now_ms=self.state.now_ms(),
            currencies=settings.allowed_currencies,
            numeric_strings=settings.accept_numeric_strings,
            strict_amounts=settings.strict_amounts,
            language=settings.error_language,
            locales=settings.accepted_locales,
            product_id_fields=settings.product_id_fields,
            taken_merchant_order_ids=(
                self.state.merchant_order_ids() if settings.reject_duplicate_merchant_order_ids else frozenset()
            ),
        )

    def reset(self) -> None:
        """Clear state, logs, faults and queued webhooks; restore behaviour settings; keep credentials/endpoints;
        then run the reset hooks."""
        self.state.clear()
        self.faults.clear()
        self.webhooks.reset()
        self.log.clear()
        self.settings.restore_defaults()
        for hook in list(self.reset_hooks):
            hook()
