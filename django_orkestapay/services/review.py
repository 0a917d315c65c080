"""An operator's review of an order (its ``needs_review`` flag and reason, from the admin), never over a flag or a
reason recorded after the operator's page was shown.

The page carries :func:`review_fingerprint` of the review it showed; :func:`review_order` compares it with the order
under its row lock and refuses (:class:`~django_orkestapay.exceptions.ReviewChangedError`) when a payment, a refund
or another operator changed the review meanwhile: a stale form cannot clear a newer flag nor drop its reason.
"""

from __future__ import annotations

import hashlib
import json
import logging

from django.db import transaction
from django.utils.translation import gettext as _

from ..exceptions import ReviewChangedError
from ..models import Order
from .locking import lock_order

logger = logging.getLogger("django_orkestapay.services")


def normalize_review_reason(text: str) -> str:
    """A review reason as stored: one reason per line, ``\\n`` between them (a browser posts ``\\r\\n``)."""
    return "\n".join(text.splitlines()).strip()


def review_fingerprint(order: Order) -> str:
    """A short hash of the order's review (flag, kind, reason) as it is now: what a page that shows it carries."""
    state = [bool(order.needs_review), order.review_code, normalize_review_reason(order.review_reason)]
    return hashlib.sha256(json.dumps(state).encode()).hexdigest()[:32]


def review_order(order: Order, *, needs_review: bool, review_reason: str, shown: str) -> Order:
    """Set the order's review flag and reason as an operator decided, on the review the operator saw (``shown``: the
    :func:`review_fingerprint` of the page). Under the order's row lock; returns the order as saved.

    Raises :class:`~django_orkestapay.exceptions.ReviewChangedError` (nothing saved) when the review changed since
    that page was shown. The review's kind (``review_code``) is kept: it says what the last flag was about.
    """
    with transaction.atomic():
        current = lock_order(order.pk)
        if review_fingerprint(current) != shown:
            raise ReviewChangedError(
                _("The review of order %(reference)s changed while this page was open; nothing was saved.")
                % {"reference": current.merchant_order_id}
            )
        current.needs_review = needs_review
        current.review_reason = normalize_review_reason(review_reason)
        current.save(update_fields=["needs_review", "review_reason", "updated_at"])
    logger.info("Order %s: review set by an operator (needs review: %s)", current.merchant_order_id, needs_review)
    return current
