"""What the shop's database records: orders and checkouts, the payment ledger and refunds, payment links, webhook
events (and the daily count of refused ones).

No HTTP here: see :mod:`django_orkestapay.services`.
"""

from .events import Event, EventStatus, RejectedWebhookCount, RejectionKind
from .ledger import UNSETTLED_REFUNDS, Payment, PaymentOrigin, PaymentStatus, Refund, RefundOrigin, RefundStatus
from .links import PaymentLink, PaymentLinkStatus
from .orders import (
    FROZEN_ORDER_FIELDS,
    MONEY,
    PAID_STATUSES,
    PAYABLE_STATUSES,
    Checkout,
    CheckoutStatus,
    FrozenOrderError,
    Order,
    OrderStatus,
    ReviewCode,
    content_fingerprint,
)

__all__ = [
    "FROZEN_ORDER_FIELDS",
    "MONEY",
    "PAID_STATUSES",
    "PAYABLE_STATUSES",
    "UNSETTLED_REFUNDS",
    "Checkout",
    "CheckoutStatus",
    "Event",
    "EventStatus",
    "FrozenOrderError",
    "Order",
    "OrderStatus",
    "Payment",
    "PaymentLink",
    "PaymentLinkStatus",
    "PaymentOrigin",
    "PaymentStatus",
    "Refund",
    "RefundOrigin",
    "RefundStatus",
    "RejectedWebhookCount",
    "RejectionKind",
    "ReviewCode",
    "content_fingerprint",
]
