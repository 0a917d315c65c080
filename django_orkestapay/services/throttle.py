"""Bounded work per visitor: at most one API read per order per ``RETURN_SYNC_INTERVAL`` for the buyer's return
pages, and as many again for a front end polling the order's status, through the Django cache named by
``TOKEN_CACHE_ALIAS`` (its atomic ``add``, so the bound holds across processes when that cache is shared, as the
documentation's *Several processes* recommends). Returns and polls count apart: a poll just before the buyer comes
back must not use up the read that tells the returning buyer "paid"."""

from __future__ import annotations

import logging
import math
import uuid

from django.core.cache import caches

from .. import conf

# One logger for the whole service layer, named as before the split, so a shop's logging configuration and its
# log filters keep working.
logger = logging.getLogger("django_orkestapay.services")


#: The kinds of visitor reads, each bounded on its own: the buyer's returns, and status polls.
RETURN, POLL = "return", "poll"


def return_read_key(order_id: uuid.UUID, kind: str = RETURN) -> str:
    """The cache key a return (or a poll: ``kind``) takes to read ``order_id`` from the API."""
    return f"orkestapay:{kind}-read:{order_id.hex}"


def claim_return_read(order_id: uuid.UUID, kind: str = RETURN) -> bool:
    """Whether a return (or a poll: ``kind``) may read the order from the API now: the first call of its kind within
    ``RETURN_SYNC_INTERVAL`` seconds takes the order's key (the cache's atomic ``add``) and gets ``True``; the others
    get ``False`` and answer from the database. ``0`` turns the bound off. A cache that fails never keeps a buyer
    from a confirmation: the read is allowed (and logged)."""
    interval = float(conf.get("RETURN_SYNC_INTERVAL") or 0)
    if interval <= 0:
        return True
    try:
        cache = caches[str(conf.get("TOKEN_CACHE_ALIAS"))]
        # Whole seconds: Redis and Memcached take no fractions (and Memcached reads 0 as "never expires").
        return bool(cache.add(return_read_key(order_id, kind), 1, timeout=max(1, math.ceil(interval))))
    except Exception as exc:  # noqa: BLE001 - a broken cache must not break a buyer's return
        logger.warning("Order %s: the return-read key could not be taken (%s); reading anyway", order_id, exc)
        return True
