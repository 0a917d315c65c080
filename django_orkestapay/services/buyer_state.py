"""Where an order stands for its buyer, and whether the pay button may be offered: the pay button
(``{% orkestapay_button %}``), the pending page and the payment-link page show this instead of a button that
:func:`.checkouts.start_checkout` would refuse (a transfer on its way) or that says nothing (a declined card)."""

from __future__ import annotations

from dataclasses import dataclass

from ..models import Order, OrderStatus, Payment, PaymentStatus
from .instructions import PaymentInstructions, payment_instructions
from .payability import IN_PROGRESS, LIVE_ATTEMPTS, PARTIALLY_PAID, attempts_of, payment_blocker

#: The kinds of :class:`PaymentState`, as the buyer would say them.
#: (:data:`.attempts.IN_PROGRESS`: a transfer, cash or 3-D Secure payment is on its way, do not pay again;
#: :data:`.attempts.PARTIALLY_PAID`: part of the total arrived, the shop settles the rest.)
PAYABLE = "payable"  # nothing happened yet, or an attempt is open: pay
DECLINED = "declined"  # the last payment was declined: nothing charged, try again
CANCELED = "canceled"  # the buyer canceled the payment: nothing charged, try again
EXPIRED = "expired"  # the payment page expired unpaid: try again
PAID = "paid"
PARTLY_REFUNDED = "partly_refunded"
REFUNDED = "refunded"
KINDS = (
    PAYABLE,
    IN_PROGRESS,
    PARTIALLY_PAID,
    DECLINED,
    CANCELED,
    EXPIRED,
    PAID,
    PARTLY_REFUNDED,
    REFUNDED,
)

_SETTLED = {OrderStatus.PAID: PAID, OrderStatus.PARTIALLY_REFUNDED: PARTLY_REFUNDED, OrderStatus.REFUNDED: REFUNDED}
_CLOSED = {OrderStatus.FAILED: DECLINED, OrderStatus.CANCELED: CANCELED, OrderStatus.EXPIRED: EXPIRED}


@dataclass(frozen=True)
class PaymentState:
    """``kind`` (one of :data:`KINDS`), whether a pay button may be offered (``payable``: a new or reused checkout
    would be started, not refused), and for a payment in progress what the buyer must do (``instructions``, when
    the ledger has the payment)."""

    kind: str
    payable: bool
    instructions: PaymentInstructions | None = None

    @property
    def in_progress(self) -> bool:
        """Whether a payment is on its way (a transfer, cash, 3-D Secure): the buyer must not pay again."""
        return self.kind == IN_PROGRESS

    @property
    def is_retry(self) -> bool:
        """Whether paying now is trying again (a declined, canceled or expired payment)."""
        return self.kind in (DECLINED, CANCELED, EXPIRED)


def payment_state(order: Order | None) -> PaymentState:
    """Where ``order`` stands for its buyer (``None``: a shop object with no order yet, which is payable).

    No query for a new or a settled order; one to three otherwise (the attempts, and the newest payment or the
    instructions). The same rule as :func:`.checkouts.start_checkout` decides ``payable``, without its lock: a
    page shows it, the pay view decides again.
    """
    if order is None or order.status == OrderStatus.CREATED:
        return PaymentState(PAYABLE, True)
    if order.status in _SETTLED:
        return PaymentState(_SETTLED[OrderStatus(order.status)], False)
    blocker = payment_blocker(attempts_of(order))
    if blocker == IN_PROGRESS:
        return PaymentState(IN_PROGRESS, False, payment_instructions(order))
    if blocker is not None:
        return PaymentState(blocker, False)
    if order.status in _CLOSED:
        return PaymentState(_CLOSED[OrderStatus(order.status)], order.is_payable)
    return PaymentState(DECLINED if _last_payment_declined(order) else PAYABLE, order.is_payable)


def _last_payment_declined(order: Order) -> bool:
    """Whether the order's newest payment failed on an attempt that is still open (a declined card leaves
    OrkestaPay's order open for another try: the order stays pending)."""
    newest = Payment.objects.filter(order=order).order_by("-created_at").values_list("status", "checkout__status")
    last = newest.first()
    return last is not None and last[0] == PaymentStatus.FAILED and last[1] in LIVE_ATTEMPTS
