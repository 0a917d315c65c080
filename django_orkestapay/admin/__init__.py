"""Admin for orders, checkouts, payments, refunds and webhook events: read-only records plus confirmed actions.

Every action (refresh from OrkestaPay, refund, resend a refund, reprocess an event) first shows a confirmation page,
then calls the service layer and reports what it did. Orders, checkouts, payments and refunds are records: nobody
adds or deletes them here. Modules: ``common`` (the shared base, confirmation page and filters), ``display`` (money
in the shop's format, dates, the review warning, a payment's method and card, items as a table), ``refunding`` (the
refund action and button, once per confirmation page), ``order_page`` (the order's summary, tables and review
form), ``orders``, ``ledger`` (payments, refunds),
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
