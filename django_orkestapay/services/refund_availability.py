"""Whether OrkestaPay lets this shop refund: the merchant's ``AVAILABLE_REFUND_BY_ECOMMERCE`` setting (its portal's
"refunds from e-commerce"), which OrkestaPay's own WordPress plugin reads before every refund, refunding only when it
is ``true``.

:func:`refund_availability` keeps an ``available`` or ``unknown`` answer :data:`AVAILABILITY_CACHE_SECONDS` in the
``TOKEN_CACHE_ALIAS`` cache (per API and client id; a batch of refunds asks once, and a portal switched off shows
within that time: until then the refund call itself is refused as before); ``unavailable`` is never kept, so refunds
work again as soon as the portal turns them back on. It never stands in a refund's way when the answer cannot be
read: an error, a timeout, an answer without the setting or a broken cache is ``unknown``, and an unknown refund goes
to the API as it always did. Only a plain ``false`` stops one (:func:`refuse_when_unavailable`).
"""

from __future__ import annotations

import enum
import hashlib
import json
import logging

from django.core.cache import caches
from django.utils.translation import gettext_lazy

from .. import conf
from ..exceptions import OrkestaPayError, RefundsUnavailableError
from .api_client import get_client

# One logger for the whole service layer, named as before the split, so a shop's logging configuration and its
# log filters keep working.
logger = logging.getLogger("django_orkestapay.services")

#: Seconds an answer is kept (a portal change shows within this time; a batch of refunds asks once).
AVAILABILITY_CACHE_SECONDS = 60


class RefundAvailability(enum.StrEnum):
    """What OrkestaPay says about refunds from this shop."""

    AVAILABLE = "available"  # the setting is true
    UNAVAILABLE = "unavailable"  # the setting is false: OrkestaPay's own plugin would not refund
    UNKNOWN = "unknown"  # the answer could not be read: refunds go to the API as before


#: What the admin shows when the portal has refunds turned off.
REFUNDS_OFF_MESSAGE = gettext_lazy(
    "Refunds are turned off in your OrkestaPay portal (the AVAILABLE_REFUND_BY_ECOMMERCE setting is false): "
    "OrkestaPay does not accept refunds from this shop, so none is sent. Turn on refunds from e-commerce in the "
    "portal, or refund in the portal itself (the refund then shows here when the order is read again)."
)


def availability_cache_key() -> str:
    """The cache key of the answer: per API and client id (not the secret, which never goes into a key)."""
    material = json.dumps([conf.base_url(), str(conf.require("CLIENT_ID"))]).encode("utf-8")
    return "orkestapay:refund-availability:" + hashlib.sha256(material).hexdigest()[:40]


def refund_availability(*, refresh: bool = False) -> RefundAvailability:
    """Whether OrkestaPay lets this shop refund now: ``available``, ``unavailable`` (the portal's setting is
    ``false``) or ``unknown`` (the answer could not be read). ``available`` and ``unknown`` are kept
    :data:`AVAILABILITY_CACHE_SECONDS` (``refresh`` asks again), ``unavailable`` is asked again every time; never
    raises for OrkestaPay or the cache."""
    key = availability_cache_key()
    cache = caches[str(conf.get("TOKEN_CACHE_ALIAS"))]
    if not refresh:
        try:
            cached = cache.get(key)
        except Exception as exc:  # noqa: BLE001 - a broken cache must not break a refund
            logger.warning("Refund availability: the cache could not be read (%s)", exc)
            cached = None
        if cached in set(RefundAvailability):
            return RefundAvailability(cached)
    try:
        answer = get_client().refunds_available()
    except OrkestaPayError as exc:
        logger.warning("Refund availability: OrkestaPay's merchant setting could not be read (%s)", exc)
        result = RefundAvailability.UNKNOWN
    else:
        if answer is None:
            result = RefundAvailability.UNKNOWN
            logger.warning("Refund availability: OrkestaPay's answer does not say whether refunds are on")
        else:
            result = RefundAvailability.AVAILABLE if answer else RefundAvailability.UNAVAILABLE
    if result is RefundAvailability.UNAVAILABLE:
        return result  # not kept: refunds work again the moment the portal turns them back on
    try:
        cache.set(key, result.value, timeout=AVAILABILITY_CACHE_SECONDS)
    except Exception as exc:  # noqa: BLE001 - a broken cache must not break a refund
        logger.warning("Refund availability: the answer could not be cached (%s)", exc)
    return result


def refuse_when_unavailable() -> None:
    """Raise :class:`~django_orkestapay.exceptions.RefundsUnavailableError` when OrkestaPay says refunds are off,
    before anything is recorded or sent; ``available`` and ``unknown`` pass."""
    if refund_availability() is RefundAvailability.UNAVAILABLE:
        logger.warning("Refund refused: refunds are turned off in the OrkestaPay portal")
        raise RefundsUnavailableError(str(REFUNDS_OFF_MESSAGE))
