"""An order's attempts (checkouts) read with what their payments say, and the one rule that says whether a new
checkout may be offered: not while a payment is in progress (a bank transfer, cash, 3-D Secure), and not once part
of the total was received. :func:`.checkouts.start_checkout` enforces it under the order's lock; the buyer's pages
(:mod:`.buyer_state`) read it to show the right thing instead of a pay button that would be refused."""

from __future__ import annotations

import functools

from django.db import router
from django.db.models import Exists, OuterRef, QuerySet

from ..models import Checkout, CheckoutStatus, Order, Payment, PaymentStatus
from .derive import IN_PROGRESS_PAYMENTS

#: Why no new checkout is offered: a payment is in progress; part of the total was received.
IN_PROGRESS = "in_progress"
PARTIALLY_PAID = "partially_paid"
#: Attempts on which a payment can still finish.
LIVE_ATTEMPTS = (CheckoutStatus.OPEN, CheckoutStatus.PENDING)


def attempts_of(order: Order) -> list[Checkout]:
    """The order's checkouts, newest first, each annotated with ``payment_in_progress`` and ``money_received``
    (one query: an order has a handful of checkouts), each with ``order`` set to ``order``."""
    database = router.db_for_read(Checkout, instance=order)  # the order's database, as its related manager's
    checkouts = list(_annotated_attempts().using(database).filter(order=order))
    for checkout in checkouts:
        checkout.order = order
    return checkouts


@functools.cache
def _annotated_attempts() -> QuerySet[Checkout]:
    """The annotated queryset :func:`attempts_of` filters, built once per process: building the two ``Exists``
    costs about a millisecond on every pay otherwise (``bench/README.md``, *Issue 21*). Never evaluated itself."""
    payments = Payment.objects.filter(checkout=OuterRef("pk"))
    return Checkout.objects.annotate(
        payment_in_progress=Exists(payments.filter(status__in=IN_PROGRESS_PAYMENTS)),
        money_received=Exists(payments.filter(status=PaymentStatus.COMPLETED)),
    ).order_by("-created_at")


def payment_blocker(checkouts: list[Checkout]) -> str | None:
    """:data:`IN_PROGRESS` while a payment on a live attempt is in progress or an attempt is pending (a payment on
    a closed attempt can no longer finish), :data:`PARTIALLY_PAID` once money was received on any attempt (the
    shop settles the rest with the buyer), else ``None``. ``checkouts`` come from :func:`attempts_of`."""
    if any(c.status in LIVE_ATTEMPTS and getattr(c, "payment_in_progress", False) for c in checkouts) or any(
        c.status == CheckoutStatus.PENDING for c in checkouts
    ):
        return IN_PROGRESS
    if any(getattr(c, "money_received", False) for c in checkouts):
        return PARTIALLY_PAID
    return None
