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
from typing import Any

from django.db import connections, router
from django.db.models import F, Model

from ..models import Order

#: No order has this id: the UPDATE that takes SQLite's write lock when there is no order row to lock yet.
_NO_ORDER = uuid.UUID(int=0)


def lock_order(order_id: uuid.UUID) -> Order:
    """Take the order's write lock, then read it (raises ``Order.DoesNotExist``). Must be the first statement of
    the transaction (``transaction.atomic()``): see the module's docstring."""
    take_write_lock(order_id)
    return lock_order_row(order_id)


def lock_order_row(order_id: uuid.UUID) -> Order:
    """Read the order with its row lock, in a transaction that took the write lock already
    (:func:`take_write_lock` first): for locking several orders, in one order, before anything else is written."""
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


def lock_shop_object(model: type[Model] | None, pk: Any) -> None:
    """Lock a shop object's row (``SELECT ... FOR UPDATE``) for the rest of the transaction; nothing when its model
    is gone (``None``). On SQLite the transaction's first write already holds the database's write lock
    (:func:`lock_order`, :func:`take_database_write_lock`). Taken after an order's lock, never before one."""
    if model is not None:
        model._default_manager.select_for_update().filter(pk=pk).exists()
