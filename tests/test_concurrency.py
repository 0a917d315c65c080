"""Exactly once under concurrency, on a real PostgreSQL server: returns and webhooks racing for the same orders.

Skipped (and reported as skipped) on SQLite, which has no row locks; scripts/test runs it on PostgreSQL.
"""

from __future__ import annotations

import contextlib
import json
import random
import threading
import time
import uuid
from collections import Counter
from concurrent.futures import ThreadPoolExecutor
from typing import Any

import pytest
import requests
from django.db import connection
from django.urls import reverse
from django_tasks_db.models import DBTaskResult

from django_orkestapay import services, signals
from django_orkestapay.exceptions import RefundNotAllowedError
from django_orkestapay.models import Event, EventStatus, Order, OrderStatus
from django_orkestapay.webhook_verification import sign_payload
from tests.conftest import make_order, make_paid_order
from tests.task_workers import (
    DATABASE_TASKS,
    RQ_TASKS,
    RedisQueue,
    rq_queues,
    task_workers,
    wait_until_drained,
)

pytestmark = [pytest.mark.django_db(transaction=True), pytest.mark.postgres]

SECRET = "whsec_" + "MfKQ9r8GKYqrTwjUPD8ILPZIo2LaLaSw"
ORDERS = 200


@pytest.fixture
def postgres_only() -> None:
    if connection.vendor != "postgresql":
        pytest.skip("needs PostgreSQL: set TEST_DATABASE_URL (scripts/test does)")


class ThreadSafeRecorder:
    def __init__(self) -> None:
        self.lock = threading.Lock()
        self.paid: list[uuid.UUID] = []
        self.changes: list[tuple[uuid.UUID, str, str]] = []

    def on_paid(self, sender: Any, order: Order, **kwargs: Any) -> None:
        with self.lock:
            self.paid.append(order.pk)

    def on_change(self, sender: Any, order: Order, old_status: str, new_status: str, **kwargs: Any) -> None:
        with self.lock:
            self.changes.append((order.pk, old_status, new_status))


def signed_headers(message_id: str, body: bytes) -> dict[str, str]:
    timestamp = int(time.time())
    return {
        "svix-id": message_id,
        "svix-timestamp": str(timestamp),
        "svix-signature": sign_payload(SECRET, message_id, timestamp, body),
        "content-type": "application/json",
    }


@pytest.mark.parametrize(
    "queued",
    [None, "database", pytest.param("rq", marks=pytest.mark.redis)],
    ids=["inline", "queued-to-2-db-workers", "queued-to-3-rq-workers"],
)
def test_returns_and_webhooks_race_and_apply_exactly_once(
    postgres_only, live_server, settings, orkestapay_settings, fake_orkestapay, tmp_path, queued, request
):
    """Returns, webhooks and duplicate deliveries for 200 orders, in 16 threads against a live server. Queued: the
    endpoint stores and enqueues (answering 202), and two ``db_worker`` processes (or three ``rqworker`` processes
    over Redis) process the events meanwhile; their signals are counted from the file they append to."""
    settings.ORKESTAPAY = {**orkestapay_settings, "WEBHOOK_SECRETS": [SECRET]}
    signal_file = tmp_path / "worker-signals.log"
    signal_file.touch()
    workers: contextlib.AbstractContextManager[Any] = contextlib.nullcontext()
    rq: RedisQueue | None = None
    if queued == "database":
        settings.TASKS = DATABASE_TASKS
        workers = task_workers(2, settings.ORKESTAPAY, signal_file, tmp_path)
    elif queued == "rq":
        redis_server = request.getfixturevalue("redis_server")
        settings.TASKS, settings.RQ_QUEUES = RQ_TASKS, rq_queues(redis_server.url)
        workers = task_workers(3, settings.ORKESTAPAY, signal_file, tmp_path, redis_url=redis_server.url)
        rq = RedisQueue(redis_server.url)
    recorder = ThreadSafeRecorder()
    signals.order_paid.connect(recorder.on_paid, dispatch_uid="race-paid")
    signals.order_status_changed.connect(recorder.on_change, dispatch_uid="race-change")
    webhook_url = f"{live_server.url}{reverse('orkestapay:webhook')}"
    tasks: list[tuple[str, str, bytes | None, dict[str, str] | None]] = []
    try:
        for index in range(ORDERS):
            order = make_order(merchant_order_id=f"RACE-{index:03d}")
            checkout = services.start_checkout(order, build_absolute_uri=lambda path: f"{live_server.url}{path}")
            completed_url = fake_orkestapay.pay(checkout.orkestapay_checkout_id)
            payment = {
                "order_id": checkout.orkestapay_order_id,
                "merchant_order_id": order.merchant_order_id,
                "status": "COMPLETED",
            }
            purchase = json.dumps({"data": {"payment": payment}, "type_event": "payment.purchase"}).encode()
            capture = json.dumps({"data": {"payment": payment}, "type_event": "payment.capture"}).encode()
            purchase_id, capture_id = f"msg_{uuid.uuid4().hex}", f"msg_{uuid.uuid4().hex}"
            tasks += [
                ("GET", completed_url, None, None),
                ("POST", webhook_url, purchase, signed_headers(purchase_id, purchase)),
                ("POST", webhook_url, purchase, signed_headers(purchase_id, purchase)),  # duplicate delivery
                ("POST", webhook_url, capture, signed_headers(capture_id, capture)),  # another event, same order
            ]
        random.Random(7).shuffle(tasks)

        def run(task: tuple[str, str, bytes | None, dict[str, str] | None]) -> int:
            method, url, body, headers = task
            with requests.Session() as session:
                response = session.request(method, url, data=body, headers=headers, allow_redirects=False, timeout=60)
            return response.status_code

        with workers, ThreadPoolExecutor(max_workers=16) as pool:
            statuses = list(pool.map(run, tasks))
            if rq is not None:
                assert rq.wait_until_drained()
                ran = rq.finished()
            else:
                ran = wait_until_drained() if queued else 0
    finally:
        signals.order_paid.disconnect(dispatch_uid="race-paid")
        signals.order_status_changed.disconnect(dispatch_uid="race-change")

    if queued:  # the first delivery of each event is queued; a duplicate is queued again or answered duplicate
        assert set(statuses) <= {200, 202}, Counter(statuses)
        assert 202 in statuses
        assert ran >= 2 * ORDERS
        if rq is not None:
            assert rq.failed() == 0
        else:
            assert not DBTaskResult.objects.exclude(status="SUCCESSFUL").exists()
        for line in signal_file.read_text().splitlines():
            kind, pk, *statuses_of_change = line.split()
            if kind == "paid":
                recorder.on_paid(None, Order(pk=uuid.UUID(pk)))
            else:
                recorder.on_change(None, Order(pk=uuid.UUID(pk)), *statuses_of_change)
    else:
        assert set(statuses) == {200}, Counter(statuses)
    assert Order.objects.filter(status=OrderStatus.PAID).count() == ORDERS
    paid_counts = Counter(recorder.paid)
    assert len(paid_counts) == ORDERS
    assert set(paid_counts.values()) == {1}
    to_paid = Counter(pk for pk, _old, new in recorder.changes if new == OrderStatus.PAID)
    assert set(to_paid.values()) == {1}
    assert set(Event.objects.values_list("attempts", flat=True)) == {1}
    assert (
        Event.objects.filter(status=EventStatus.PROCESSED).count()
        + Event.objects.filter(status=EventStatus.IGNORED).count()
        == 2 * ORDERS
    )
    assert not Event.objects.filter(status__in=[EventStatus.FAILED, EventStatus.REJECTED]).exists()


def test_concurrent_refunds_never_return_more_than_was_paid(postgres_only, orkestapay_settings, fake_orkestapay):
    """Eight operators press *Refund* on the same order at once: exactly one full refund goes out."""
    order = make_paid_order(fake_orkestapay)
    barrier = threading.Barrier(8)

    def press_refund(_: int) -> str:
        barrier.wait()
        try:
            services.refund_order(Order.objects.get(pk=order.pk))
            return "refunded"
        except RefundNotAllowedError:
            return "refused"
        finally:
            connection.close()

    with ThreadPoolExecutor(max_workers=8) as pool:
        outcomes = Counter(pool.map(press_refund, range(8)))
    assert outcomes == Counter({"refunded": 1, "refused": 7})
    order.refresh_from_db()
    assert order.status == OrderStatus.REFUNDED
    assert order.refunds.count() == 1
    assert fake_orkestapay.count_requests("POST", prefix="/v1/payments/") == 1
