"""Taking an order's lock so that it works on SQLite as on PostgreSQL: the lock first, then the work.

``select_for_update`` does nothing on SQLite, and a SQLite transaction that starts by reading cannot later take the
write lock if another connection wrote meanwhile: it fails at once with ``database is locked``, whatever the
timeout. A transaction whose first statement is a write waits for the lock instead (up to the connection's
``timeout``). So on a database without row locks (SQLite), :func:`lock_order` starts with an ``UPDATE`` of the
order's row that changes nothing, which takes the database's write lock; on PostgreSQL (and MySQL) its
``SELECT ... FOR UPDATE`` takes the row's lock by itself, and the extra statement is skipped. Either way everything
after it in the transaction runs alone for that order. Call it as the first statement of the transaction.

A database that stays busy past its timeout raises ``django.db.OperationalError``; the views answer it with 503.
"""

from __future__ import annotations

import uuid

from django.db import connections, router
from django.db.models import F

from ..models import Order

#: No order has this id: the UPDATE that takes SQLite's write lock when there is no order row to lock yet.
_NO_ORDER = uuid.UUID(int=0)


def lock_order(order_id: uuid.UUID) -> Order:
    """Take the order's write lock, then read it (raises ``Order.DoesNotExist``). Must be the first statement of
    the transaction (``transaction.atomic()``): see the module's docstring."""
    take_write_lock(order_id)
    return Order.objects.select_for_update().get(pk=order_id)


def take_write_lock(order_id: uuid.UUID) -> None:
    """On a database without row locks (SQLite), take its write lock now with a write to the order's row that
    changes nothing; elsewhere nothing (the caller locks the row with :func:`lock_order`'s ``select_for_update``)."""
    if _without_row_locks():
        Order.objects.filter(pk=order_id).update(status=F("status"))


def take_database_write_lock() -> None:
    """On a database without row locks (SQLite), take its write lock now, before the transaction reads anything;
    elsewhere nothing (the caller locks its rows with ``select_for_update``)."""
    if _without_row_locks():
        Order.objects.filter(pk=_NO_ORDER).update(status=F("status"))


def _without_row_locks() -> bool:
    return not connections[router.db_for_write(Order)].features.has_select_for_update
