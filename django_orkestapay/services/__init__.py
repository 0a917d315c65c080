"""The service layer: the only code that calls the OrkestaPay client and the only code that changes statuses.

Views, webhooks, admin actions and management commands call these functions and nothing else. Every status change
goes through :func:`transition_order`, under a row lock, and sends its signals on commit.

This module is the layer's public face: import ``django_orkestapay.services`` and use the names in ``__all__``.
Each capability lives in a module of its own: ``orders`` (orders, amounts, shop-object orders and their content
fingerprints), ``checkouts`` (start_checkout, the request body, return URLs, trusted redirects), ``transitions``
(the state machine, the review flag, robust signals on commit), ``derive`` (an order's status from its ledger,
pure), ``ledger`` (the Payment rows, refunds mirrored and settled), ``apply`` (what the API reports, applied under
the order's lock), ``sync`` (reading attempts: returns, reconciliation, expiry), ``webhooks`` (receive, reject,
parse, process), ``refunds``, ``batch`` (bulk actions and their summary) and ``api_client`` (the client for the
current settings). They import each other one way only: ``webhooks`` uses ``sync`` and ``apply``; ``sync`` uses
``apply``; ``apply`` uses ``ledger``, ``derive``, ``orders`` and ``transitions``; none of them imports this face.
"""

from .api_client import get_client
from .apply import SyncResult, apply_payment_read, refresh_order_status
from .batch import BatchSummary
from .checkouts import checkout_locale, is_trusted_checkout_url, start_checkout
from .derive import Derived, derive_status, map_payment_status
from .ledger import record_payment
from .orders import create_order, current_fingerprint, linked_orders, order_for, paid_order_for
from .refunds import refund_order, refund_orders, refundable_amount, retry_refund, retry_refunds
from .sync import (
    confirm_return,
    expire_checkouts,
    map_remote_status,
    orders_to_reconcile,
    sync_checkout,
    sync_order,
    sync_orders,
)
from .transitions import flag_review, transition_order
from .webhooks import HANDLED_EVENT_TYPES, receive_webhook, reject_webhook, reprocess_events

__all__ = [
    "HANDLED_EVENT_TYPES",
    "BatchSummary",
    "Derived",
    "SyncResult",
    "apply_payment_read",
    "checkout_locale",
    "confirm_return",
    "create_order",
    "current_fingerprint",
    "derive_status",
    "expire_checkouts",
    "flag_review",
    "get_client",
    "is_trusted_checkout_url",
    "linked_orders",
    "map_payment_status",
    "map_remote_status",
    "order_for",
    "orders_to_reconcile",
    "paid_order_for",
    "receive_webhook",
    "record_payment",
    "refresh_order_status",
    "refund_order",
    "refund_orders",
    "refundable_amount",
    "reject_webhook",
    "reprocess_events",
    "retry_refund",
    "retry_refunds",
    "start_checkout",
    "sync_checkout",
    "sync_order",
    "sync_orders",
    "transition_order",
]
