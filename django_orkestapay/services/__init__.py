"""The service layer: the only code that calls the OrkestaPay client and the only code that changes statuses.

Views, webhooks, admin actions and management commands call these functions and nothing else. Every status change
goes through :func:`transition_order`, under a row lock, and sends its signals on commit.

This module is the layer's public face: import ``django_orkestapay.services`` and use the names in ``__all__``. Each
capability lives in a module of its own: ``orders`` (orders, amounts, shop-object orders and their content
fingerprints), ``money`` (amount and quantity validation), ``checkouts`` (start_checkout, return URLs, trusted
redirects), ``checkout_body`` (the request body, taxes folded into the prices), ``payability`` (whether a new
checkout may be offered), ``buyer_state`` (where an order stands for its buyer) with ``instructions`` (a transfer's
or cash payment's details), ``transitions`` (the state machine, the review flag, robust signals on commit),
``derive`` (an order's status from its ledger, pure), ``ledger`` (the Payment rows, refunds mirrored and settled),
``apply`` (what the API reports, applied under the order's lock), ``status`` (the derived status applied: forced
moves, announcements), ``sync`` (reading attempts: returns, reconciliation, expiry), ``webhooks`` (receive, store,
reject, parse, process), ``reprocessing`` (one stored event by id, the reprocess sweep), ``refunds`` (with
``refund_sending``, the call and its outcomes, and ``refund_intents``, exactly once per confirmation page, and
``refund_availability``, whether the portal has refunds turned on), ``review`` (an operator's review of a flagged
order, never over a newer flag), ``payment_links`` (links to an order's pay page: create, revoke, resolve, pay),
``batch`` (bulk actions and their summary) and ``api_client`` (the client for the current settings). They import
each other one way only (the architecture test keeps it so); none of them imports this face.
"""

from .api_client import forget_access_token, get_client
from .apply import SyncResult, apply_payment_read, refresh_order_status
from .batch import BatchSummary
from .buyer_state import PaymentState, payment_state
from .checkouts import checkout_locale, is_trusted_checkout_url, start_checkout
from .derive import Derived, derive_status, map_payment_status
from .instructions import PaymentInstructions, instructions_from_payment, payment_instructions
from .ledger import record_payment
from .money import (
    format_amount_for_input,
    format_money,
    parse_localized_amount,
    validate_amount,
    validate_quantity,
)
from .orders import create_order, current_fingerprint, linked_orders, order_for, paid_order_for
from .payment_links import (
    create_payment_link,
    pay_through_link,
    payment_link_url,
    resolve_payment_link,
    revoke_payment_link,
    revoke_payment_links,
)
from .refund_availability import RefundAvailability, refund_availability
from .refund_intents import RefundIntent, load_refund_intent, new_refund_intent
from .refunds import (
    mark_refund_failed,
    mark_refund_succeeded,
    mark_refunds_failed,
    mark_refunds_succeeded,
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
from .reprocessing import events_to_reprocess, process_stored_event, reprocess_stale_events
from .review import normalize_review_reason, review_fingerprint, review_order
from .sync import (
    confirm_return,
    expire_checkouts,
    map_remote_status,
    orders_to_reconcile,
    poll_order,
    sync_checkout,
    sync_order,
    sync_orders,
)
from .transitions import flag_review, transition_order
from .webhooks import HANDLED_EVENT_TYPES, receive_webhook, reject_webhook, reprocess_events, store_webhook

__all__ = [
    "HANDLED_EVENT_TYPES",
    "BatchSummary",
    "Derived",
    "PaymentInstructions",
    "PaymentState",
    "RefundAvailability",
    "RefundIntent",
    "SyncResult",
    "apply_payment_read",
    "checkout_locale",
    "confirm_return",
    "create_order",
    "create_payment_link",
    "current_fingerprint",
    "derive_status",
    "events_to_reprocess",
    "expire_checkouts",
    "flag_review",
    "forget_access_token",
    "format_amount_for_input",
    "format_money",
    "get_client",
    "instructions_from_payment",
    "is_trusted_checkout_url",
    "linked_orders",
    "load_refund_intent",
    "map_payment_status",
    "map_remote_status",
    "mark_refund_failed",
    "mark_refund_succeeded",
    "mark_refunds_failed",
    "mark_refunds_succeeded",
    "new_refund_intent",
    "normalize_review_reason",
    "order_for",
    "orders_to_reconcile",
    "paid_order_for",
    "parse_localized_amount",
    "pay_through_link",
    "payment_instructions",
    "payment_link_url",
    "payment_state",
    "poll_order",
    "process_stored_event",
    "receive_webhook",
    "reconcile_refunds",
    "record_payment",
    "refresh_order_status",
    "refund_availability",
    "refund_order",
    "refund_orders",
    "refund_payment",
    "refundable_amount",
    "refundable_amount_of",
    "refunds_to_reconcile",
    "reject_webhook",
    "reprocess_events",
    "reprocess_stale_events",
    "resolve_payment_link",
    "retry_refund",
    "retry_refunds",
    "review_fingerprint",
    "review_order",
    "revoke_payment_link",
    "revoke_payment_links",
    "start_checkout",
    "store_webhook",
    "sync_checkout",
    "sync_order",
    "sync_orders",
    "transition_order",
    "validate_amount",
    "validate_quantity",
]
