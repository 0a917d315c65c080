"""The service layer: the only code that calls the OrkestaPay client and the only code that changes statuses.

Views, webhooks, admin actions and management commands call these functions and nothing else. Every status change
goes through :func:`transition_order`, under a row lock, and sends its signals on commit.

This module is the layer's public face: import ``django_orkestapay.services`` and use the names in ``__all__``.
Each capability lives in a module of its own: ``orders`` (orders, amounts, shop-object orders), ``checkouts``
(start_checkout, the request body, return URLs, trusted redirects), ``transitions`` (the state machine), ``sync``
(applying what the API reports: returns, reconciliation, expiry), ``webhooks`` (receive, reject, parse, process),
``refunds`` (with ``refund_sending``, the call and its outcomes, and ``refund_intents``, exactly once per
confirmation page), ``money`` (amount and quantity validation), ``batch`` (bulk actions and their summary) and
``api_client`` (the client for the current settings). They import each other one way only: ``webhooks`` uses
``sync``; ``checkouts``, ``sync`` and ``refunds`` use ``transitions``, ``orders``, ``batch`` and ``api_client``;
``orders`` and the refunds use ``money``; none of them imports this face.
"""

from .api_client import get_client
from .batch import BatchSummary
from .checkouts import checkout_locale, is_trusted_checkout_url, start_checkout
from .money import format_amount_for_input, parse_localized_amount, validate_amount, validate_quantity
from .orders import create_order, linked_orders, order_for, paid_order_for
from .refund_intents import RefundIntent, load_refund_intent, new_refund_intent
from .refunds import (
    reconcile_refunds,
    refund_order,
    refund_orders,
    refund_payment,
    refundable_amount,
    refundable_amount_of,
    refunds_to_reconcile,
    retry_refund,
    retry_refunds,
)
from .sync import (
    SyncResult,
    confirm_return,
    expire_checkouts,
    map_remote_status,
    orders_to_reconcile,
    sync_checkout,
    sync_order,
    sync_orders,
)
from .transitions import transition_order
from .webhooks import HANDLED_EVENT_TYPES, receive_webhook, reject_webhook, reprocess_events

__all__ = [
    "HANDLED_EVENT_TYPES",
    "BatchSummary",
    "RefundIntent",
    "SyncResult",
    "checkout_locale",
    "confirm_return",
    "create_order",
    "expire_checkouts",
    "format_amount_for_input",
    "get_client",
    "is_trusted_checkout_url",
    "linked_orders",
    "load_refund_intent",
    "map_remote_status",
    "new_refund_intent",
    "order_for",
    "orders_to_reconcile",
    "paid_order_for",
    "parse_localized_amount",
    "receive_webhook",
    "reconcile_refunds",
    "refund_order",
    "refund_orders",
    "refund_payment",
    "refundable_amount",
    "refundable_amount_of",
    "refunds_to_reconcile",
    "reject_webhook",
    "reprocess_events",
    "retry_refund",
    "retry_refunds",
    "start_checkout",
    "sync_checkout",
    "sync_order",
    "sync_orders",
    "transition_order",
    "validate_amount",
    "validate_quantity",
]
