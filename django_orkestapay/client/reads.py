"""Reading an OrkestaPay order with its payments in as few network round trips as the answers allow.

``GET /v1/orders/{id}``, ``GET /v1/orders/{id}/payments`` and ``GET /v1/payments/{id}`` for the payments the caller
already expects run at once: the order's in the caller's thread, the others in the process's read threads
(:func:`shared_pool`); a second round reads the listed payments the list left without a status or an amount
(OrkestaPay's public record shows lists that carry only ids). ``requests`` sessions and the token manager are safe
to share between these threads: the token is fetched (or taken from the cache) before they start and pinned for them
(they never ask the cache, which may be a database's), so they never race to fetch one.

What fails the whole read: the order's own read (any error), or a transient failure (a timeout, a connection error,
a 5xx, a 429, a refused token) of any of the calls, since a retry may then give the whole answer. What is only a
problem, named in :attr:`~.results.OrderRead.problems`: a payments list that cannot be read as one, a listed item
without an id, a payment whose own read answers 404, 400 or a body we cannot read. No Django here.
"""

from __future__ import annotations

import contextvars
import functools
import os
import threading
from collections.abc import Callable, Iterable
from concurrent.futures import Future, ThreadPoolExecutor, wait
from typing import Any, Protocol, TypeVar

from ..exceptions import UNUSABLE_ANSWERS, OrkestaPayError
from .results import OrderRead, RemoteOrder, RemotePayment

__all__ = ["MAX_PAYMENT_READS", "POOL_THREADS", "OrderReader", "read_order", "shared_pool"]

_T = TypeVar("_T")

#: At most this many payments of one order are read one by one (an order has a handful of payments at most).
MAX_PAYMENT_READS = 20


class OrderReader(Protocol):
    """The calls :func:`read_order` makes (:class:`~.endpoints.OrkestaPayClient` has them)."""

    def pinned_token(self) -> contextvars.Context: ...

    def get_order(self, order_id: str) -> RemoteOrder: ...

    def read_order_payments(self, order_id: str) -> tuple[list[RemotePayment], list[str]]: ...

    def get_remote_payment(self, payment_id: str) -> RemotePayment: ...


def _merged(listed: RemotePayment | None, detail: RemotePayment) -> RemotePayment:
    """A payment's own answer, which wins over its list item; the list item's values fill what it leaves out."""
    if listed is None:
        return detail
    status = detail.status or listed.status
    amount = detail.amount if detail.amount is not None else listed.amount
    return RemotePayment(
        payment_id=detail.payment_id,
        order_id=detail.order_id or listed.order_id,
        status=status,
        amount=amount,
        refunded=detail.refunded if detail.refunded is not None else listed.refunded,
        currency=detail.currency or listed.currency,
        method_type=detail.method_type or listed.method_type,
        transactions=detail.transactions or listed.transactions,
        raw=detail.raw,
        partial=amount is None,
        problems=detail.problems if detail.status and detail.amount is not None else listed.problems + detail.problems,
    )


#: The threads one process keeps for reads (started as needed; more concurrent reads wait for a free one).
POOL_THREADS = 32

_pool: tuple[int, ThreadPoolExecutor] | None = None
_pool_lock = threading.Lock()


def shared_pool() -> ThreadPoolExecutor:
    """This process's read threads, made on first use: a read pays no thread start, and a forked process (an
    ``rqworker``'s work horse) makes its own, since the threads of its parent do not exist in it."""
    global _pool
    pid = os.getpid()
    with _pool_lock:
        if _pool is None or _pool[0] != pid:
            _pool = (pid, ThreadPoolExecutor(max_workers=POOL_THREADS, thread_name_prefix="orkestapay-read"))
        return _pool[1]


def _run(
    pool: ThreadPoolExecutor, context: contextvars.Context, calls: dict[str, Callable[[], _T]]
) -> dict[str, Future[_T]]:
    """Submit each call to run in a copy of ``context`` (each thread needs its own copy to enter it)."""
    return {key: pool.submit(context.copy().run, call) for key, call in calls.items()}


def _problem(payment_id: str, exc: OrkestaPayError) -> str:
    return f"payment {payment_id[:64]}: its own read failed: {exc.message[:200]}"


def read_order(client: OrderReader, order_id: str, *, payment_ids: Iterable[str] = ()) -> OrderRead:
    """Read ``order_id``, its payments list and the payments ``payment_ids`` names at once; then, in a second round,
    the listed payments still lacking a status or an amount. A payment read by id is kept only when the list names
    it or its own answer names ``order_id`` (an id from a buyer's URL never brings in another order's payment)."""
    expected = list(dict.fromkeys(pid for pid in payment_ids if isinstance(pid, str) and pid.strip()))
    expected = expected[:MAX_PAYMENT_READS]
    context = client.pinned_token()  # the token, once, before the threads: they share it (and never ask the cache)
    pool = shared_pool()
    in_flight: list[Future[Any]] = []
    try:
        return _read_all(client, order_id, expected, context, pool, in_flight)
    except BaseException:  # a failed read returns once all its calls are over: none holds a shared thread after it
        wait(in_flight)  # (and none is cancelled: which calls were sent does not depend on the threads' timing)
        raise


def _read_all(
    client: OrderReader,
    order_id: str,
    expected: list[str],
    context: contextvars.Context,
    pool: ThreadPoolExecutor,
    in_flight: list[Future[Any]],
) -> OrderRead:
    list_call = pool.submit(context.copy().run, client.read_order_payments, order_id)
    in_flight.append(list_call)
    detail_calls = _run(pool, context, _detail_reads(client, expected))
    in_flight += detail_calls.values()
    order = context.copy().run(client.get_order, order_id)  # here, meanwhile: one thread fewer to hand over to
    problems: list[str] = []
    listed: dict[str, RemotePayment] = {}
    try:
        found, skipped = list_call.result()
    except UNUSABLE_ANSWERS as exc:
        problems.append(f"the payments list could not be read: {exc.message[:200]}")
    else:
        problems += skipped
        for payment in found:
            listed.setdefault(payment.payment_id, payment)
    details, failed = _collect(detail_calls)
    # An expected payment's failed read counts only when the list names it: the ids may come from a buyer's URL.
    problems += [line for pid, line in failed.items() if pid in listed]
    missing = [pid for pid, payment in listed.items() if payment.needs_detail and pid not in detail_calls]
    second_calls = _run(pool, context, _detail_reads(client, missing))
    in_flight += second_calls.values()
    second, failed = _collect(second_calls)
    details.update(second)
    problems += failed.values()
    payments: list[RemotePayment] = []
    for pid, payment in listed.items():
        payments.append(_merged(payment, details[pid]) if pid in details else payment)
    for pid, detail in details.items():
        if pid not in listed and detail.order_id == order.order_id:
            payments.append(detail)
    return OrderRead(order=order, payments=tuple(payments), problems=tuple(problems))


def _detail_reads(client: OrderReader, payment_ids: list[str]) -> dict[str, Callable[[], RemotePayment]]:
    return {pid: functools.partial(client.get_remote_payment, pid) for pid in payment_ids[:MAX_PAYMENT_READS]}


def _collect(calls: dict[str, Future[Any]]) -> tuple[dict[str, RemotePayment], dict[str, str]]:
    """The payments the calls read, and a problem line per payment whose answer was unusable; any other failure
    raises."""
    found: dict[str, RemotePayment] = {}
    failed: dict[str, str] = {}
    for pid, call in calls.items():
        try:
            found[pid] = call.result()
        except UNUSABLE_ANSWERS as exc:
            failed[pid] = _problem(pid, exc)
    return found, failed
