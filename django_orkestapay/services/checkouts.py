"""Checkouts: :func:`start_checkout` registers (or reuses) an OrkestaPay hosted checkout for an order, with the
checkout locale, the signed return URLs, and the check that OrkestaPay's redirect URL points at a trusted host (the
request body is :mod:`.checkout_body`'s)."""

from __future__ import annotations

import itertools
import logging
import math
import re
import uuid
from collections.abc import Callable, Mapping, Sequence
from datetime import datetime, timedelta
from urllib.parse import urlencode, urlsplit

from django.db import transaction
from django.urls import reverse
from django.utils import timezone, translation

from .. import conf, signals
from ..client import CheckoutResult
from ..exceptions import (
    MalformedResponseError,
    OrderNotPayableError,
    OrkestaPayError,
    PartiallyPaidError,
    PaymentInProgressError,
    TooManyFailedCheckoutsError,
    UnexpectedRedirectError,
)
from ..models import Checkout, CheckoutStatus, Order, OrderStatus
from ..signing import CANCELED, COMPLETED, RETURN_PARAM, sign_return
from .api_client import _jsonable, get_client
from .checkout_body import build_checkout_payload
from .locking import lock_order
from .orders import reference_taken, validate_amounts
from .payability import IN_PROGRESS, PARTIALLY_PAID, attempts_of, payment_blocker
from .sync import MAX_ATTEMPTS_READ, sync_checkout
from .transitions import send_on_commit, transition_order

# One logger for the whole service layer, named as before the split, so a shop's logging configuration and its
# log filters keep working.
logger = logging.getLogger("django_orkestapay.services")

#: The only checkout locale seen in OrkestaPay's documentation and integrations.
DEFAULT_LOCALE = "ES_LATAM"


def checkout_locale(order: Order) -> str:
    """The locale sent to OrkestaPay: the order's, else the ``LOCALE`` setting, else the active language's
    entry in ``LANGUAGE_LOCALES`` (``es-mx`` -> ``es``), else ``ES_LATAM``."""
    if order.locale:
        return order.locale
    if conf.get("LOCALE"):
        return str(conf.get("LOCALE"))
    language = (translation.get_language() or "").lower()
    table: Mapping[str, str] = conf.get("LANGUAGE_LOCALES") or {}
    return table.get(language) or table.get(language.split("-")[0]) or DEFAULT_LOCALE


def _return_url(build_absolute_uri: Callable[[str], str], order: Order, checkout: Checkout, side: str) -> str:
    path = reverse(f"orkestapay:{side}")
    query = urlencode({RETURN_PARAM: sign_return(order_id=order.pk, checkout_id=checkout.pk, side=side)})
    base = conf.get("RETURN_BASE_URL")
    if base:
        return f"{str(base).rstrip('/')}{path}?{query}"
    return build_absolute_uri(f"{path}?{query}")


def is_trusted_checkout_url(url: str) -> bool:
    """Whether ``url`` points at a host we send buyers to (https, or the overridden BASE_URL's own host)."""
    try:
        parts = urlsplit(url)
    except ValueError:  # "https://[x" and other URLs Python cannot even split
        return False
    host = (parts.hostname or "").lower()
    if not host or parts.scheme not in ("https", "http"):
        return False
    # Browsers read "https://evil.example\@x.orkestapay.com" as evil.example; refuse user info, backslashes and
    # anything but plain (punycode) host characters, so we judge the same host the browser would visit.
    if "@" in parts.netloc or "\\" in url or not all(c in "abcdefghijklmnopqrstuvwxyz0123456789.-:" for c in host):
        return False
    base_host = urlsplit(conf.base_url()).hostname
    if parts.scheme == "http" and host != base_host:
        return False
    for allowed in conf.checkout_hosts():
        allowed = allowed.lower()
        if allowed.startswith(".") and (host.endswith(allowed) or host == allowed[1:]):
            return True
        if host == allowed:
            return True
    return False


def start_checkout(order: Order | uuid.UUID, *, build_absolute_uri: Callable[[str], str]) -> Checkout:
    """Return an open checkout for ``order``: an unexpired one already registered, or a new one.

    The order's write lock is taken first and held while OrkestaPay is asked (:func:`.locking.lock_order`, SQLite
    included), so two concurrent clicks make one checkout. A failure is recorded on a ``FAILED`` checkout row and
    on ``order.last_error`` and then raised; the order stays payable, but after ``FAILED_CHECKOUT_LIMIT`` failures
    within ``FAILED_CHECKOUT_WINDOW`` OrkestaPay is not asked again for a while
    (:class:`TooManyFailedCheckoutsError`).
    While a payment of the order is in progress (a bank transfer, cash, 3-D Secure) no checkout is offered
    (:class:`PaymentInProgressError`): the buyer could otherwise pay twice; nor while part of the total was received
    (:class:`PartiallyPaidError`: the shop settles the rest with the buyer). Before an open checkout near its expiry
    (or past it) is replaced, it is read from OrkestaPay (:func:`.sync.sync_checkout`): the buyer may have paid it a
    moment ago; it is left open (the expiry sweep closes it). ``order`` may be the order's id, read locked. Raises
    ``Order.DoesNotExist``, :class:`OrderNotPayableError`, ``ValidationError`` (amounts) or an
    :class:`OrkestaPayError`.
    """
    failure: OrkestaPayError | None = None
    with transaction.atomic():
        order_id = order.pk if isinstance(order, Order) else order
        order = lock_order(order_id)
        now = timezone.now()
        reusable, checkouts = _offerable(order, now=now)
        if reusable is not None:
            return reusable
        # Pressed again near an open attempt's end (or past it, before the sweep read it): the buyer may have paid
        # it a moment ago, before its return or webhook arrived. Ask OrkestaPay about it before opening another one:
        # money or a payment in progress on it means no new checkout, and a read that fails means none either (it
        # may be paid). What was read is committed before the refusal is raised.
        unread = [c for c in checkouts if c.status == CheckoutStatus.OPEN and c.orkestapay_order_id]
        try:
            for existing in unread[:MAX_ATTEMPTS_READ]:
                order = sync_checkout(existing).order  # as the read left it (locked, in this transaction)
            if unread:
                reusable, checkouts = _offerable(order, now=now)
            if reusable is None:
                refuse_after_failures(order, checkouts, now=now)
        except OrkestaPayError as exc:
            failure = exc
        else:
            if reusable is not None:
                return reusable
            checkout, failure = _register(order, len(checkouts) + 1, now=now, build_absolute_uri=build_absolute_uri)
    if failure is not None:
        raise failure
    return checkout


def _register(
    order: Order, attempt: int, *, now: datetime, build_absolute_uri: Callable[[str], str]
) -> tuple[Checkout, OrkestaPayError | None]:
    """Register attempt number ``attempt`` of the *locked* order with OrkestaPay: the new checkout, and the error
    when OrkestaPay refused it or could not be reached (recorded on a ``FAILED`` checkout and on the order)."""
    # Failed attempts count too: a timeout may have left a checkout at OrkestaPay under the previous reference,
    # and whether OrkestaPay refuses a repeated merchant_order_id is unknown.
    lifetime = conf.get("CHECKOUT_LIFETIME")
    checkout = Checkout(
        order=order,
        locale=checkout_locale(order),
        merchant_reference=attempt_reference(order, attempt),
        expires_at=now + timedelta(seconds=float(lifetime)) if lifetime else None,
    )
    checkout.completed_url = _return_url(build_absolute_uri, order, checkout, COMPLETED)
    checkout.canceled_url = _return_url(build_absolute_uri, order, checkout, CANCELED)
    try:
        result = get_client().create_checkout(build_checkout_payload(order, checkout))
        _check_fits(result)
        if not is_trusted_checkout_url(result.redirect_url):
            raise UnexpectedRedirectError(
                f"checkout_redirect_url host {urlsplit(result.redirect_url).hostname!r} is not trusted",
                response_body=result.raw,
            )
    except OrkestaPayError as exc:
        checkout.status = CheckoutStatus.FAILED
        checkout.error = str(exc)
        checkout.raw_response = exc.response_body if isinstance(exc.response_body, dict) else None
        checkout.save()
        order.last_error = f"{timezone.now():%Y-%m-%d %H:%M:%S} creating checkout: {exc}"
        order.save(update_fields=["last_error", "updated_at"])
        logger.error("Order %s: checkout could not be created: %s", order.merchant_order_id, exc)
        return checkout, exc
    checkout.orkestapay_checkout_id = result.checkout_id
    checkout.orkestapay_order_id = result.order_id
    checkout.redirect_url = result.redirect_url
    checkout.expires_at = result.expires_at or checkout.expires_at
    checkout.raw_response = _jsonable(result.raw)
    checkout.save()
    order.orkestapay_order_id = result.order_id
    order.last_error = ""
    # transition_order saves the whole row, ids included; only a no-op transition needs its own save.
    if not transition_order(order, OrderStatus.PENDING, reason=f"checkout {result.checkout_id} created"):
        order.save(update_fields=["orkestapay_order_id", "last_error", "updated_at"])
    send_on_commit(signals.checkout_created, order, checkout=checkout)
    logger.info("Order %s: checkout %s created", order.merchant_order_id, result.checkout_id)
    return checkout, None


def _offerable(order: Order, *, now: datetime) -> tuple[Checkout | None, list[Checkout]]:
    """Whether ``order`` may be offered a checkout now (raises when it may not) and its attempts, newest first: an
    open attempt to show the buyer again, if one is reusable."""
    if not order.is_payable:
        raise OrderNotPayableError(f"Order {order.merchant_order_id} is {order.status}")
    validate_amounts(order)
    checkouts = attempts_of(order)  # one query for the checks below, the reuse and the attempt number
    blocker = payment_blocker(checkouts)
    if blocker == IN_PROGRESS:
        raise PaymentInProgressError(f"Order {order.merchant_order_id} has a payment in progress")
    if blocker == PARTIALLY_PAID:  # paid in part: a person settles the rest
        raise PartiallyPaidError(f"Order {order.merchant_order_id} has received money but is not paid")
    margin = float(conf.get("CHECKOUT_REUSE_MARGIN"))
    reusable = next((c for c in checkouts if c.is_reusable(now=now, margin_seconds=margin)), None)
    return reusable, checkouts


#: How every attempt reference ends but an order's first (``-A2`` now, ``-2`` before this scheme).
_ATTEMPT_SUFFIX = re.compile(r"-A?[0-9]+\Z")


def attempt_reference(order: Order, attempt: int) -> str:
    """The ``merchant_order_id`` sent for ``order``'s attempt number ``attempt``: the order's own reference for the
    first, ``<reference>-A<attempt>`` after it; never one that already names another order or an attempt (so an
    attempt's reference and the next order of the same cart, ``<reference>-2``, can never meet).

    Every attempt reference is an order's reference, maybe with an attempt suffix: an order's own reference without
    one (``ORD-...`` as ``create_order`` makes them) can name no other attempt, and is not looked up."""
    base = order.merchant_order_id
    if attempt == 1 and not _ATTEMPT_SUFFIX.search(base):
        return base
    candidates = itertools.chain([base] if attempt == 1 else [], (f"{base}-A{n}" for n in itertools.count(attempt)))
    return next(candidate for candidate in candidates if not reference_taken(candidate, order=order))


def refuse_after_failures(order: Order, checkouts: Sequence[Checkout], *, now: datetime) -> None:
    """Raise :class:`TooManyFailedCheckoutsError` when ``FAILED_CHECKOUT_LIMIT`` of the order's checkouts failed
    within the last ``FAILED_CHECKOUT_WINDOW`` seconds: OrkestaPay refused them (or could not be reached), so a
    visitor pressing the button again would only repeat the refusal. Counted from the ``FAILED`` rows themselves
    (no cache): it holds across processes, under the order's lock."""
    limit = int(conf.get("FAILED_CHECKOUT_LIMIT") or 0)
    if limit <= 0:
        return
    window = timedelta(seconds=float(conf.get("FAILED_CHECKOUT_WINDOW")))
    failed = sorted(
        c.created_at for c in checkouts if c.status == CheckoutStatus.FAILED and c.created_at > now - window
    )
    if len(failed) < limit:
        return
    # Pay works again once enough of these failures are older than the window.
    retry_after = max(1, math.ceil((failed[-limit] + window - now).total_seconds()))
    logger.warning(
        "Order %s: %d checkouts failed in %s; no new one for %d s",
        order.merchant_order_id,
        len(failed),
        window,
        retry_after,
    )
    raise TooManyFailedCheckoutsError(
        f"Order {order.merchant_order_id}: {len(failed)} checkouts failed within {window}", retry_after=retry_after
    )


def _check_fits(result: CheckoutResult) -> None:
    """Refuse a checkout whose ids or URL do not fit our columns (truncating an id would break every lookup)."""
    limits = {"checkout_id": 64, "order_id": 64, "redirect_url": 1000}
    for name, limit in limits.items():
        value = getattr(result, name) or ""
        if len(value) > limit:
            raise MalformedResponseError(
                f"{MalformedResponseError.default_message}: {name} is {len(value)} characters long (at most {limit})",
                response_body=result.raw,
            )
