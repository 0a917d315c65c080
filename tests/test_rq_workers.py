"""Background work on a real distributed queue: RQ workers over Redis, through Django Tasks (django-tasks-rq), as
docs/background.rst's recipe sets it up. Queued webhook deliveries, the reprocess sweep and the scheduled sync run on
several ``rqworker`` processes (``tests/task_workers.py``) sharing the test's PostgreSQL database; each test has
its own throwaway ``redis-server``, which one of them kills and starts again.

What is proven: every delivery applied exactly once (one Event row processed with ``attempts == 1``, one Payment,
one ``order_paid`` signal per order, counted from the file the workers append to); a worker killed with SIGKILL
in the middle of a task (inside the transaction that applies it, the event's outcome written) leaves nothing applied,
and the reprocess sweep, itself a task on the queue, applies that event once; Redis killed and started empty
mid-run (the tasks it held forgotten, the enqueues meanwhile refused) loses nothing, because the database holds
every delivery and the sweep takes up what the queue forgot.

Needs PostgreSQL (several processes writing at once) and Redis (``redis-server`` on PATH, and ``TEST_REDIS_URL``
set, as scripts/test does in its PostgreSQL pass); anywhere else skipped, and reported as skipped.
"""

from __future__ import annotations

import re
import threading
import time
import uuid
from collections import Counter
from pathlib import Path
from typing import Any

import pytest
from django.db import connection, connections, transaction
from django.test import Client

from bench.queue_backends import WORKER_COMMANDS as bench_worker_commands
from django_orkestapay import tasks
from django_orkestapay.models import Checkout, Event, EventStatus, Order, OrderStatus, Payment
from tests.doc_examples import blocks_of
from tests.task_workers import ROOT, RQ_APPS, RQ_TASKS, RQ_WORKER, RedisQueue, RedisServer, rq_queues, task_workers
from tests.test_tasks import Clock
from tests.test_webhooks import SECRET, deliver, started_and_paid

pytestmark = [pytest.mark.django_db(transaction=True), pytest.mark.postgres, pytest.mark.redis]

WORKERS = 3


@pytest.fixture
def rq(settings: Any, orkestapay_settings: dict[str, Any], redis_server: RedisServer) -> RedisQueue:
    """This process enqueues on RQ (django-tasks-rq), on the test's own Redis, and queues every webhook delivery.
    Skipped without PostgreSQL or Redis."""
    if connection.vendor != "postgresql":
        pytest.skip("needs PostgreSQL: set TEST_DATABASE_URL (scripts/test does)")
    settings.ORKESTAPAY = {**orkestapay_settings, "WEBHOOK_SECRETS": [SECRET], "WEBHOOK_PROCESSING": "queue"}
    settings.TASKS = RQ_TASKS
    settings.RQ_QUEUES = rq_queues(redis_server.url)
    return RedisQueue(redis_server.url)


@pytest.fixture
def signal_file(tmp_path: Path) -> Path:
    path = tmp_path / "worker-signals.log"
    path.touch()
    return path


def rq_workers(settings: Any, redis_server: RedisServer, signal_file: Path, log_dir: Path, **orkestapay: Any) -> Any:
    """``WORKERS`` rqworker processes with the test's settings (and ``orkestapay`` on top)."""
    return task_workers(
        WORKERS, {**settings.ORKESTAPAY, **orkestapay}, signal_file, log_dir, redis_url=redis_server.url
    )


def paid_orders(fake_orkestapay: Any, count: int) -> list[Order]:
    return [started_and_paid(fake_orkestapay) for _ in range(count)]


def post(order: Order, message_id: str | None = None, event_type: str = "payment.purchase") -> tuple[str, int]:
    """Deliver one signed event about ``order`` (what OrkestaPay sends: the order's ids and status; the API
    re-read decides); its message id and the answer's status."""
    message_id = message_id or f"msg_{uuid.uuid4().hex}"
    payment = {
        "order_id": order.orkestapay_order_id,
        "merchant_order_id": order.merchant_order_id,
        "status": "COMPLETED",
    }
    payload = {"data": {"payment": payment}, "type_event": event_type}
    return message_id, deliver(Client(enforce_csrf_checks=True), payload, message_id=message_id).status_code


def signals_sent(signal_file: Path) -> Counter[tuple[str, str]]:
    """The workers' ``order_paid`` signals and changes to paid, by order."""
    sent: Counter[tuple[str, str]] = Counter()
    for line in signal_file.read_text().splitlines():
        kind, pk, *change = line.split()
        if kind == "paid" or change[-1] == OrderStatus.PAID:
            sent[(kind, pk)] += 1
    return sent


def assert_each_applied_once(orders: list[Order], message_ids: set[str], signal_file: Path) -> None:
    """Every delivery's event processed once; every order paid once, with one payment and one of each signal."""
    events = list(Event.objects.all())
    assert {event.message_id for event in events} == message_ids, "an event was lost, or one appeared from nowhere"
    assert Counter(event.status for event in events) == Counter({EventStatus.PROCESSED: len(message_ids)})
    assert {event.attempts for event in events} == {1}
    assert_paid_once(orders, signal_file)


def assert_paid_once(orders: list[Order], signal_file: Path) -> None:
    """Every order paid, with one payment, one ``order_paid`` and one change to paid."""
    assert set(Order.objects.values_list("status", flat=True)) == {OrderStatus.PAID}
    assert Counter(Payment.objects.values_list("order_id", flat=True)) == Counter({o.pk: 1 for o in orders})
    expected = {(kind, str(order.pk)): 1 for order in orders for kind in ("paid", "changed")}
    assert signals_sent(signal_file) == expected


# ----------------------------------------------------------------------------------------------- the recipe


def test_these_tests_run_the_recipe_the_documentation_shows():
    """docs/background.rst's RQ settings and worker command are the ones the workers here run with."""
    page = ROOT / "docs" / "background.rst"
    (settings_block,) = [b for b in blocks_of(page) if b.caption == "settings.py (RQ)"]
    (command_block,) = [b for b in blocks_of(page) if b.language == "sh" and "rqworker" in b.code]
    documented: dict[str, Any] = {}
    exec(settings_block.compiled(), documented)  # noqa: S102 - the page's own code

    assert documented["TASKS"] == RQ_TASKS
    assert documented["INSTALLED_APPS"][1:] == [*RQ_APPS, "django_orkestapay"]
    ours = rq_queues("redis://localhost:6379/0")["default"]
    theirs = documented["RQ_QUEUES"]["default"]
    pool, documented_pool = ours.pop("REDIS_CLIENT_KWARGS")["connection_pool"], theirs.pop("REDIS_CLIENT_KWARGS")
    assert ours == theirs
    assert type(documented_pool["connection_pool"]) is type(pool)
    where = ("host", "port", "db")
    assert [documented_pool["connection_pool"].connection_kwargs[key] for key in where] == [
        pool.connection_kwargs[key] for key in where
    ]
    assert command_block.code.split()[:2] == ["python", "manage.py"]
    assert command_block.code.split()[2:] == [*RQ_WORKER, "default"] == bench_worker_commands["rq"]


# ---------------------------------------------------------------------------------------------------- the drain


def test_queued_deliveries_run_on_three_rq_workers_and_apply_exactly_once(
    settings, rq, redis_server, fake_orkestapay, signal_file, tmp_path
):
    """60 orders, each with a purchase delivered twice (a Svix retry) and a capture: 180 deliveries, 120 events,
    every one answered 202 (a retry of an event still waiting is queued again), run by 3 workers."""
    orders = paid_orders(fake_orkestapay, 60)
    sent: set[str] = set()
    statuses: Counter[int] = Counter()
    with rq_workers(settings, redis_server, signal_file, tmp_path):
        for order in orders:
            purchase, status = post(order)
            statuses[status] += 1
            statuses[post(order, purchase)[1]] += 1
            capture, status = post(order, event_type="payment.capture")
            statuses[status] += 1
            sent |= {purchase, capture}
        assert rq.wait_until_drained()

    assert set(statuses) <= {200, 202}, statuses
    assert statuses[202] >= 120, statuses
    assert rq.failed() == 0
    assert rq.finished() == statuses[202]  # every task enqueued ran, successfully
    assert_each_applied_once(orders, sent, signal_file)


# ------------------------------------------------------------------------------------------------ the schedule

SWEEP_NAMES = ["reprocess_events", "expire_checkouts", "reconcile_refunds", "sync_orders"]


def test_the_scheduled_sweeps_run_on_rq_workers_and_do_not_pile_up(
    settings, rq, redis_server, fake_orkestapay, signal_file, tmp_path
):
    """10 orders paid at OrkestaPay whose webhooks never came. The scheduler (what ``orkestapay_schedule`` runs)
    enqueues the four sweeps on RQ while no worker runs: they wait in Redis, READY, and an hour later it enqueues
    none of them again. Three workers start and run them: the sync sweep pays each order once. The next tick,
    the previous runs finished, enqueues all four again; the second sync changes nothing."""
    orders = paid_orders(fake_orkestapay, 10)
    clock = Clock()
    scheduler = tasks.Scheduler(clock=clock)

    assert scheduler.tick() == SWEEP_NAMES
    clock.now += 3600
    assert scheduler.tick() == []
    assert rq.waiting() == len(SWEEP_NAMES)
    first_sync = scheduler.last["sync_orders"]
    with rq_workers(settings, redis_server, signal_file, tmp_path):
        assert rq.wait_until_drained()
        first_sync.refresh()
        clock.now += 3600
        assert scheduler.tick() == SWEEP_NAMES
        assert rq.wait_until_drained()
        for result in scheduler.last.values():
            result.refresh()

    assert (first_sync.status, first_sync.return_value) == ("SUCCESSFUL", {"succeeded": 10, "failed": 0, "changed": 10})
    assert {name: (r.status, r.return_value["failed"]) for name, r in scheduler.last.items()} == {
        name: ("SUCCESSFUL", 0) for name in SWEEP_NAMES
    }
    assert scheduler.last["sync_orders"].return_value == {"succeeded": 10, "failed": 0, "changed": 0}
    assert rq.finished() == 2 * len(SWEEP_NAMES)
    assert rq.failed() == 0
    assert_paid_once(orders, signal_file)


# ------------------------------------------------------------------------------------------- a worker killed


class CheckoutRowHeld:
    """Holds the row lock of one order's attempt from another connection (a thread), so a worker applying an event
    about that order stops inside its transaction, at its first write to the attempt (the payment's insert, whose
    foreign key needs the attempt's row, or the attempt's update): the order locked, the event's outcome written but
    not committed."""

    def __init__(self, order: Order) -> None:
        self.order = order
        self.locked = threading.Event()
        self.release = threading.Event()
        self.thread = threading.Thread(target=self._hold, daemon=True)

    def _hold(self) -> None:
        try:
            with transaction.atomic():
                Checkout.objects.select_for_update().get(order=self.order)
                self.locked.set()
                self.release.wait(timeout=120)
        finally:
            connections.close_all()

    def __enter__(self) -> CheckoutRowHeld:
        self.thread.start()
        assert self.locked.wait(timeout=10)
        return self

    def __exit__(self, *exc: object) -> None:
        self.release.set()
        self.thread.join(timeout=30)


def backends_waiting_for_a_lock() -> list[tuple[int, str, bool]]:
    """PostgreSQL backends of this database blocked on a lock: their pid, statement, and whether their
    transaction has written anything yet (it has a transaction id)."""
    with connection.cursor() as cursor:
        cursor.execute(
            "SELECT pid, query, backend_xid IS NOT NULL FROM pg_stat_activity"
            " WHERE datname = current_database() AND wait_event_type = 'Lock'"
        )
        return [tuple(row) for row in cursor.fetchall()]


def backend_alive(pid: int) -> bool:
    with connection.cursor() as cursor:
        cursor.execute("SELECT count(*) FROM pg_stat_activity WHERE pid = %s", [pid])
        return bool(cursor.fetchone()[0])


def wait_for(condition: Any, timeout: float = 30.0) -> Any:
    deadline = time.monotonic() + timeout
    while time.monotonic() < deadline:
        value = condition()
        if value:
            return value
        time.sleep(0.05)
    raise AssertionError(f"timed out waiting for {condition}")


def test_a_worker_killed_in_the_middle_of_a_task_applies_nothing_and_the_sweep_applies_it_once(
    settings, rq, redis_server, fake_orkestapay, signal_file, tmp_path
):
    """The worker running the victim's task is SIGKILLed while that task is inside its transaction (the order
    locked, the event marked processed, not committed, the attempt's row awaited). Nothing of it lands; RQ does not
    deliver the task again (it has no retries); the other workers go on; the reprocess sweep, enqueued on RQ and run
    by a worker, applies the event once."""
    orders = paid_orders(fake_orkestapay, 20)
    victim, others = orders[0], orders[1:]
    with rq_workers(settings, redis_server, signal_file, tmp_path, EVENT_REPROCESS_AFTER=0) as workers:
        with CheckoutRowHeld(victim):
            victim_message, status = post(victim)
            assert status == 202
            ((blocked, statement, has_written),) = wait_for(backends_waiting_for_a_lock)
            # the first write to the attempt (the payment's insert checks its foreign key, or the attempt's own
            # update), the order's lock taken and the event's UPDATE already made
            assert statement.startswith(('INSERT INTO "orkestapay_payment"', 'UPDATE "orkestapay_checkout"'))
            assert has_written
            (job,) = wait_for(rq.running)
            worker = rq.worker_of(job)
            assert worker in workers.names
            workers.kill(worker)
        # PostgreSQL rolls the killed worker's transaction back once it finds the client gone.
        wait_for(lambda: not backend_alive(blocked))
        event = Event.objects.get(message_id=victim_message)
        assert (event.status, event.attempts) == (EventStatus.RECEIVED, 0)
        assert not Payment.objects.filter(order=victim).exists()
        assert Order.objects.get(pk=victim.pk).status != OrderStatus.PAID

        sent = {victim_message} | {post(order)[0] for order in others}  # the two workers left run these
        assert rq.wait_until_drained(abandoned=frozenset({job}), unsettled=1)
        assert Event.objects.get(message_id=victim_message).status == EventStatus.RECEIVED  # nobody ran it again

        sweep = tasks.enqueue(tasks.SWEEPS["reprocess_events"])
        assert rq.wait_until_drained(abandoned=frozenset({job}))
        sweep.refresh()

    assert (sweep.status, sweep.return_value) == ("SUCCESSFUL", {"succeeded": 1, "failed": 0, "changed": 1})
    assert rq.failed() == 0
    assert job in rq.running()
    assert_each_applied_once(orders, sent, signal_file)


# ------------------------------------------------------------------------------------------ Redis restarted


#: ``GET /v1/orders/{id}``, not its payments list.
ORDER_READ = re.compile(r"/v1/orders/[^/]+")


class GatewayHeld:
    """Holds the fake gateway's answers to API reads, so the workers stay busy and tasks pile up in Redis.
    ``waiting`` counts the held order reads: one per busy worker (its payments list and payment reads go out at the
    same moment, in threads of their own, and are held too, but not counted)."""

    def __init__(self, fake: Any) -> None:
        self.fake = fake
        self.release = threading.Event()
        self.waiting = 0
        self._lock = threading.Lock()

    def __call__(self, record: Any) -> None:
        if record.kind == "api" and record.method == "GET":
            if ORDER_READ.fullmatch(record.path):
                with self._lock:
                    self.waiting += 1
            self.release.wait(timeout=60)

    def __enter__(self) -> GatewayHeld:
        self.fake.on_request = self
        return self

    def __exit__(self, *exc: object) -> None:
        self.release.set()
        self.fake.on_request = None


def test_redis_killed_and_started_empty_mid_run_loses_nothing(
    settings, rq, redis_server, fake_orkestapay, signal_file, tmp_path, caplog
):
    """While 3 workers are busy (the gateway held) and tasks wait in Redis, Redis is SIGKILLed: the waiting tasks
    are gone, and deliveries meanwhile are stored and answered 202 though their enqueue is refused. Redis comes
    back empty; the workers reconnect (one that exited is started again, as a supervisor would); new deliveries
    flow again; the reprocess sweep, a task on the new Redis, applies every event the queue forgot. Each once."""
    orders = paid_orders(fake_orkestapay, 40)
    before, waiting, during, after = orders[:5], orders[5:20], orders[20:30], orders[30:]
    sent: set[str] = set()
    statuses: Counter[int] = Counter()

    def post_all(batch: list[Order]) -> None:
        for order in batch:
            message_id, status = post(order)
            sent.add(message_id)
            statuses[status] += 1

    with rq_workers(settings, redis_server, signal_file, tmp_path, EVENT_REPROCESS_AFTER=0) as workers:
        post_all(before)
        assert rq.wait_until_drained(workers=workers)
        with GatewayHeld(fake_orkestapay) as gateway:
            post_all(waiting)  # 3 taken by the workers (held at the gateway), 12 left waiting in Redis
            wait_for(lambda: gateway.waiting == WORKERS)
            assert rq.waiting() == len(waiting) - WORKERS
            redis_server.stop()
            with caplog.at_level("ERROR", logger="django_orkestapay.tasks"):
                post_all(during)  # stored, answered 202, not enqueued
            refused = [r for r in caplog.records if r.getMessage().startswith("Could not enqueue")]
            assert len(refused) == len(during)
            redis_server.start()
        assert rq.waiting() == 0  # the new Redis knows nothing
        post_all(after)
        forgotten = len(waiting) - WORKERS + len(during)
        assert rq.wait_until_drained(unsettled=forgotten, workers=workers)
        assert wait_for(lambda: Event.objects.filter(status=EventStatus.RECEIVED).count() == forgotten)

        sweep = tasks.enqueue(tasks.SWEEPS["reprocess_events"])
        assert rq.wait_until_drained(workers=workers)
        sweep.refresh()

    print(f"workers started again after Redis came back: {workers.restarted}")
    assert statuses == Counter({202: len(orders)})
    assert (sweep.status, sweep.return_value) == (
        "SUCCESSFUL",
        {"succeeded": forgotten, "failed": 0, "changed": forgotten},
    )
    assert_each_applied_once(orders, sent, signal_file)
