"""Payment links: an order's pay page at an unguessable address, for shops that sell through chat or e-mail.

:func:`create_payment_link` makes one (its own lifetime, else ``PAYMENT_LINK_LIFETIME``) and sends
``payment_link_created`` on commit with the URL to send; :func:`revoke_payment_link` ends it;
:func:`resolve_payment_link` finds the link a URL names, or says why it cannot be used; :func:`pay_through_link`
starts (or reuses) the order's checkout from the link's page, the buyer coming back to that page afterwards.
"""

from __future__ import annotations

import logging
import re
import secrets
from collections.abc import Callable, Iterable
from datetime import timedelta
from typing import Any

from django.db import transaction
from django.db.models import Q
from django.urls import reverse
from django.utils import timezone

from .. import conf, signals
from ..exceptions import OrderNotPayableError, PaymentLinkUnusableError
from ..models import Checkout, Order, PaymentLink, PaymentLinkStatus
from .batch import BatchSummary
from .checkouts import start_checkout
from .locking import lock_order
from .transitions import send_on_commit

logger = logging.getLogger("django_orkestapay.services")

#: Random bytes in a link's token (256 bits, 43 URL-safe characters): never guessed, never sequential.
TOKEN_BYTES = 32
#: What a token looks like; anything else is refused before the database is asked.
TOKEN_PATTERN = re.compile(r"[A-Za-z0-9_-]{43}")
#: ``lifetime=SETTING`` (the default): the ``PAYMENT_LINK_LIFETIME`` setting.
SETTING: Any = object()


def create_payment_link(
    order: Order,
    *,
    lifetime: float | None = SETTING,
    created_by: str = "",
    build_absolute_uri: Callable[[str], str] | None = None,
) -> PaymentLink:
    """A new link to ``order``'s pay page, usable for ``lifetime`` seconds (``None``: no expiry; not given: the
    ``PAYMENT_LINK_LIFETIME`` setting). Sends ``payment_link_created`` on commit with ``link`` and ``url``
    (:func:`payment_link_url`, with ``build_absolute_uri`` when given: pass ``request.build_absolute_uri``).

    Raises :class:`~django_orkestapay.exceptions.OrderNotPayableError` for an order that can no longer be paid
    (paid, refunded) and ``ValueError`` for a lifetime that is not a positive number of seconds. An order may have
    several links; each is revoked on its own.
    """
    seconds = conf.get("PAYMENT_LINK_LIFETIME") if lifetime is SETTING else lifetime
    if seconds is not None and (isinstance(seconds, bool) or not float(seconds) > 0):
        raise ValueError(f"a payment link's lifetime must be a positive number of seconds, not {seconds!r}")
    with transaction.atomic():
        order = lock_order(order.pk)
        if not order.is_payable:
            raise OrderNotPayableError(f"Order {order.merchant_order_id} is {order.status}: no payment link")
        now = timezone.now()
        link = PaymentLink.objects.create(
            order=order,
            token=secrets.token_urlsafe(TOKEN_BYTES),
            expires_at=now + timedelta(seconds=float(seconds)) if seconds is not None else None,
            created_by=created_by[:150],
            created_at=now,
        )
        send_on_commit(signals.payment_link_created, order, link=link, url=payment_link_url(link, build_absolute_uri))
    logger.info("Order %s: payment link %s created (expires %s)", order.merchant_order_id, link.pk, link.expires_at)
    return link


def payment_link_url(link: PaymentLink, build_absolute_uri: Callable[[str], str] | None = None) -> str:
    """The address to send: ``RETURN_BASE_URL`` and the link's path when that setting is set, else
    ``build_absolute_uri(path)`` when given, else the path alone."""
    path = link.get_absolute_url()
    base = conf.get("RETURN_BASE_URL")
    if base:
        return f"{str(base).rstrip('/')}{path}"
    return build_absolute_uri(path) if build_absolute_uri is not None else path


def revoke_payment_link(link: PaymentLink, *, revoked_by: str = "") -> bool:
    """End ``link`` now: its page says it was revoked and it starts no more checkouts. ``True`` when this call
    revoked it, ``False`` when it already was (one UPDATE, safe to repeat). A hosted page the buyer already opened
    through it stays payable until its checkout expires (``CHECKOUT_LIFETIME``): the order is still owed."""
    now = timezone.now()
    revoked = PaymentLink.objects.filter(pk=link.pk, revoked_at__isnull=True).update(
        revoked_at=now, revoked_by=revoked_by[:150]
    )
    if revoked:
        link.revoked_at, link.revoked_by = now, revoked_by[:150]
        logger.info("Payment link %s revoked by %s", link.pk, revoked_by or "-")
    return bool(revoked)


def revoke_payment_links(links: Iterable[PaymentLink], *, revoked_by: str = "") -> BatchSummary:
    """:func:`revoke_payment_link` for each (the admin's action); ``changed`` counts those it revoked."""
    summary = BatchSummary()
    for link in links:
        summary.succeeded += 1
        summary.changed += int(revoke_payment_link(link, revoked_by=revoked_by))
    return summary


def resolve_payment_link(token: str) -> PaymentLink:
    """The link whose URL carries ``token``, with its order (one query), if it can be used now.

    Raises :class:`~django_orkestapay.exceptions.PaymentLinkUnusableError` with ``reason`` ``"unknown"`` (no such
    link, or not a token at all: no query then), ``"revoked"`` or ``"expired"`` (``link`` set: a page may still
    say whether its order was paid)."""
    if not isinstance(token, str) or not TOKEN_PATTERN.fullmatch(token):
        raise PaymentLinkUnusableError("not a payment link token", reason="unknown")
    link = PaymentLink.objects.select_related("order").filter(token=token).first()
    if link is None:
        raise PaymentLinkUnusableError("no such payment link", reason="unknown")
    check_usable(link)
    return link


def check_usable(link: PaymentLink) -> None:
    """Raise :class:`~django_orkestapay.exceptions.PaymentLinkUnusableError` when ``link`` is revoked or expired."""
    status = link.status_at(timezone.now())
    if status != PaymentLinkStatus.ACTIVE:
        raise PaymentLinkUnusableError(f"payment link {link.pk} is {status}", reason=str(status), link=link)


def pay_through_link(link: PaymentLink, *, build_absolute_uri: Callable[[str], str]) -> Checkout:
    """Start (or reuse) the checkout of ``link``'s order, as its page's pay button does; the link must still be
    usable (checked again: it may have been revoked since the page opened).

    The buyer of a link has no session in the shop, so the order's return pages become the link's page: its own
    ``success_url`` and ``cancel_url`` are set to the link's path when they are empty or name another payment link
    (a shop's own per-order pages are never replaced). The buyer then lands on the link's page, which says paid,
    pending or not completed. Everything else is :func:`~.checkouts.start_checkout`'s: two concurrent presses make
    one checkout, a payment in progress refuses a new one, and the same exceptions are raised.
    """
    check_usable(link)
    path = link.get_absolute_url()
    prefix = reverse("orkestapay:payment_link", args=["-" * 43]).removesuffix("-" * 43 + "/")
    orders = Order.objects.filter(pk=link.order_id)
    orders.filter(Q(success_url="") | Q(success_url__startswith=prefix)).update(success_url=path)
    orders.filter(Q(cancel_url="") | Q(cancel_url__startswith=prefix)).update(cancel_url=path)
    return start_checkout(link.order_id, build_absolute_uri=build_absolute_uri)
