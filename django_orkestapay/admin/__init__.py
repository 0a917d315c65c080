"""Admin for orders, checkouts, payments, refunds and webhook events: read-only records plus confirmed actions.

Every action (refresh from OrkestaPay, refund, resend a refund, reprocess an event) first shows a confirmation page,
then calls the service layer and reports how many succeeded and how many failed. Orders, checkouts, payments and
refunds are records: nobody adds or deletes them here. Modules: ``common`` (the shared base and confirmation page),
``refunding`` (the refund action, once per confirmation page), ``orders``, ``ledger`` (payments, refunds),
``links`` (payment links), ``events``.
"""

from .common import pretty_json
from .events import EventAdmin, RejectedWebhookCountAdmin
from .ledger import PaymentAdmin, RefundAdmin
from .links import PaymentLinkAdmin
from .orders import CheckoutAdmin, OrderAdmin

__all__ = [
    "CheckoutAdmin",
    "EventAdmin",
    "OrderAdmin",
    "PaymentAdmin",
    "PaymentLinkAdmin",
    "RefundAdmin",
    "RejectedWebhookCountAdmin",
    "pretty_json",
]
