"""Background work as Django tasks: the webhook endpoint inline under the ImmediateBackend and queued otherwise,
events processed exactly once (twice in a row, twice at once, a retry of a queued delivery), the reprocess sweep
that covers a lost or failed task, the sweeps as tasks, and the configured backend and queue.

Queued deliveries use the framework's ``DummyBackend`` here (tasks are recorded, not run; the test runs them);
``tests/test_worker.py`` runs the real database backend with a worker process, on PostgreSQL.
"""

from __future__ import annotations

import logging
import threading
from datetime import timedelta
from importlib.util import find_spec
from typing import Any

import pytest
from django.db import connection, transaction
from django.test import Client
from django.utils import timezone

import django_orkestapay
from django_orkestapay import services, signals, tasks
from django_orkestapay.models import Event, EventStatus, Order, OrderStatus, Payment
from django_orkestapay.services import webhooks as webhook_services
from django_orkestapay.tasks_compat import TaskResultStatus, task_backends
from tests.conftest import make_order
from tests.test_webhooks import SECRET, deliver, payment_event, started_and_paid

pytestmark = pytest.mark.django_db(transaction=True)

FRAMEWORK = "django.tasks" if find_spec("django.tasks") is not None else "django_tasks"
DUMMY_BACKEND = f"{FRAMEWORK}.backends.dummy.DummyBackend"


@pytest.fixture
def webhook_settings(settings, orkestapay_settings):
    settings.ORKESTAPAY = {**orkestapay_settings, "WEBHOOK_SECRETS": [SECRET]}
    return settings.ORKESTAPAY


@pytest.fixture
def queue(settings, webhook_settings) -> Any:
    """A backend that records tasks instead of running them (a worker that has not come yet)."""
    settings.TASKS = {"default": {"BACKEND": DUMMY_BACKEND}}
    backend: Any = task_backends["default"]
    backend.clear()
    return backend


class SignalLog:
    """Every order_paid and order_status_changed, as (signal, order id, new status)."""

    def __init__(self) -> None:
        self.lock = threading.Lock()
        self.sent: list[tuple[str, Any, str]] = []

    def paid(self, sender: Any, order: Order, **kwargs: Any) -> None:
        with self.lock:
            self.sent.append(("order_paid", order.pk, order.status))

    def changed(self, sender: Any, order: Order, new_status: str, **kwargs: Any) -> None:
        with self.lock:
            self.sent.append(("order_status_changed", order.pk, new_status))


@pytest.fixture
def signal_log():
    log = SignalLog()
    signals.order_paid.connect(log.paid, dispatch_uid="test-tasks-paid")
    signals.order_status_changed.connect(log.changed, dispatch_uid="test-tasks-changed")
    yield log
    signals.order_paid.disconnect(dispatch_uid="test-tasks-paid")
    signals.order_status_changed.disconnect(dispatch_uid="test-tasks-changed")


def queued_event_ids(backend: Any) -> list[int]:
    assert {result.task.name for result in backend.results} <= {"process_webhook_event"}
    return [result.args[0] for result in backend.results]


# ------------------------------------------------------------------------------------------- the one import


def test_the_framework_is_django_tasks_on_django_6_and_the_backport_before():
    import django

    assert type(task_backends).__module__.startswith(FRAMEWORK)
    assert ("django.tasks" if django.VERSION >= (6, 0) else "django_tasks") == FRAMEWORK


# ------------------------------------------------------------------------------------- inline or queued


@pytest.mark.parametrize(
    ("backend", "mode", "inline"),
    [
        (None, "auto", True),  # Django's default: the ImmediateBackend, no worker
        (DUMMY_BACKEND, "auto", False),
        (DUMMY_BACKEND, "inline", True),
        (None, "queue", False),
    ],
)
def test_the_endpoint_processes_inline_under_the_immediate_backend_unless_told(
    settings, webhook_settings, backend, mode, inline
):
    if backend:
        settings.TASKS = {"default": {"BACKEND": backend}}
    settings.ORKESTAPAY = {**webhook_settings, "WEBHOOK_PROCESSING": mode}
    assert tasks.processes_webhooks_inline() is inline


@pytest.fixture
def with_a_worker_backend(settings, webhook_settings):
    """A shop that has a worker (any backend but the ImmediateBackend): deliveries would be queued."""
    settings.TASKS = {"default": {"BACKEND": DUMMY_BACKEND}}
    assert tasks.processes_webhooks_inline() is False


def test_the_plugins_inline_fixture_processes_deliveries_in_the_request_and_keeps_the_other_keys(
    with_a_worker_backend, orkestapay_webhooks_inline, settings, webhook_settings
):
    assert tasks.processes_webhooks_inline() is True
    kept = settings.ORKESTAPAY
    assert kept == {**webhook_settings, "WEBHOOK_PROCESSING": "inline"}


def test_under_the_immediate_backend_a_delivery_is_processed_in_the_request(webhook_settings, fake_orkestapay):
    order = started_and_paid(fake_orkestapay)

    response = deliver(Client(enforce_csrf_checks=True), payment_event(order))

    assert (response.status_code, response.json()) == (200, {"status": "processed"})
    order.refresh_from_db()
    assert order.status == OrderStatus.PAID


def test_a_queued_delivery_is_stored_enqueued_and_answered_202_before_any_api_call(queue, fake_orkestapay, signal_log):
    order = started_and_paid(fake_orkestapay)
    signal_log.sent.clear()  # the checkout's own transition to pending
    reads_before = fake_orkestapay.count_requests("GET")

    response = deliver(Client(enforce_csrf_checks=True), payment_event(order))

    assert (response.status_code, response.json()) == (202, {"status": "queued"})
    event = Event.objects.get()
    assert (event.status, event.attempts, event.verified) == (EventStatus.RECEIVED, 0, True)
    assert (event.event_type, event.orkestapay_order_id) == ("payment.purchase", order.orkestapay_order_id)
    assert queued_event_ids(queue) == [event.pk]
    assert fake_orkestapay.count_requests("GET") == reads_before
    order.refresh_from_db()
    assert order.status == OrderStatus.PENDING

    assert tasks.process_webhook_event.call(event.pk) == "processed"  # what the worker does

    order.refresh_from_db()
    assert order.status == OrderStatus.PAID
    event.refresh_from_db()
    assert (event.status, event.attempts, event.order_id) == (EventStatus.PROCESSED, 1, order.pk)
    assert signal_log.sent == [("order_status_changed", order.pk, "paid"), ("order_paid", order.pk, "paid")]


def test_a_retry_of_a_queued_delivery_is_enqueued_again_and_applied_once(queue, fake_orkestapay, signal_log):
    order = started_and_paid(fake_orkestapay)
    signal_log.sent.clear()  # the checkout's own transition to pending
    client = Client(enforce_csrf_checks=True)
    payload = payment_event(order)

    first = deliver(client, payload, message_id="msg_retried")
    second = deliver(client, payload, message_id="msg_retried")  # the worker has not run yet: enqueue again

    assert first.status_code == second.status_code == 202
    event = Event.objects.get()
    assert queued_event_ids(queue) == [event.pk, event.pk]
    reads_before = fake_orkestapay.count_requests("GET")
    outcomes = [tasks.process_webhook_event.call(event_id) for event_id in queued_event_ids(queue)]

    assert outcomes == ["processed", "duplicate"]
    # the order, its payments and the payment the event names (unknown to OrkestaPay), read at once, once; the
    # evidence profile's payments list carries only ids, so the order's one payment is then read on its own
    own_reads = 0 if fake_orkestapay.profile == "rich" else 1
    assert fake_orkestapay.count_requests("GET") == reads_before + 3 + own_reads
    event.refresh_from_db()
    assert (event.status, event.attempts) == (EventStatus.PROCESSED, 1)
    assert Payment.objects.filter(order=order).count() == 1
    assert [name for name, *_ in signal_log.sent] == ["order_status_changed", "order_paid"]
    # and once processed, OrkestaPay's next retry is a plain duplicate, nothing enqueued
    queue.clear()
    assert deliver(client, payload, message_id="msg_retried").json() == {"status": "duplicate"}
    assert queue.results == []


def test_storing_a_repeat_inside_a_callers_transaction_leaves_that_transaction_usable(webhook_settings, db):
    """Stored from the endpoint (autocommit) the event's INSERT commits by itself; inside a caller's transaction a
    repeat's IntegrityError is held in a savepoint, so the caller's transaction goes on."""
    body, headers = _body({"type_event": "order.update"}), {"content-type": "application/json"}
    with transaction.atomic():
        first, stored = services.store_webhook(message_id="msg_nested", body=body, headers=headers)
        again, repeat = services.store_webhook(message_id="msg_nested", body=body, headers=headers)
        assert Event.objects.filter(message_id="msg_nested").count() == 1  # the transaction is not broken

    assert (stored, repeat, again.pk) == ("stored", "stored", first.pk)


def test_the_same_event_processed_twice_in_a_row_applies_once(webhook_settings, fake_orkestapay, signal_log):
    """Two processings that each loaded the event before either ran (a task run twice, the sweep beside a slow
    worker): the second finds it settled when it records its outcome, and applies nothing."""
    order = started_and_paid(fake_orkestapay)
    signal_log.sent.clear()  # the checkout's own transition to pending
    event, outcome = services.store_webhook(
        message_id="msg_twice", body=_body(payment_event(order)), headers={"content-type": "application/json"}
    )
    assert outcome == "stored"
    first_copy, second_copy = Event.objects.get(pk=event.pk), Event.objects.get(pk=event.pk)

    outcomes = [webhook_services.process_event(first_copy), webhook_services.process_event(second_copy)]

    assert outcomes == ["processed", "duplicate"]
    event.refresh_from_db()
    assert (event.status, event.attempts) == (EventStatus.PROCESSED, 1)
    assert Payment.objects.filter(order=order).count() == 1
    assert signal_log.sent == [("order_status_changed", order.pk, "paid"), ("order_paid", order.pk, "paid")]


@pytest.mark.postgres
def test_the_same_event_processed_twice_at_once_applies_once(
    monkeypatch, webhook_settings, fake_orkestapay, signal_log
):
    """Two threads process one event at the same moment: both read OrkestaPay, then meet at the order's lock (taken
    before any event row is written); one applies it, the other waits for that commit and finds the event
    settled."""
    if connection.vendor != "postgresql":
        pytest.skip("needs PostgreSQL's row locks: set TEST_DATABASE_URL (scripts/test does)")
    order = started_and_paid(fake_orkestapay)
    signal_log.sent.clear()  # the checkout's own transition to pending
    event, _ = services.store_webhook(
        message_id="msg_at_once", body=_body(payment_event(order)), headers={"content-type": "application/json"}
    )
    both_read = threading.Barrier(2, timeout=30)
    read_attempt = webhook_services.read_attempt  # type: ignore[attr-defined]

    def read_then_wait(checkout: Any, **options: Any) -> Any:
        read = read_attempt(checkout, **options)
        both_read.wait()  # neither has recorded anything yet
        return read

    monkeypatch.setattr(webhook_services, "read_attempt", read_then_wait)
    outcomes: list[str] = []

    def process() -> None:
        try:
            outcomes.append(services.process_stored_event(event.pk))
        finally:
            connection.close()

    threads = [threading.Thread(target=process) for _ in range(2)]
    for thread in threads:
        thread.start()
    for thread in threads:
        thread.join(timeout=60)

    assert sorted(outcomes) == ["duplicate", "processed"]
    event.refresh_from_db()
    assert (event.status, event.attempts) == (EventStatus.PROCESSED, 1)
    assert Payment.objects.filter(order=order).count() == 1
    assert sorted(name for name, *_ in signal_log.sent) == ["order_paid", "order_status_changed"]


# ------------------------------------------------------------------------------------- the reprocess sweep


def test_when_the_queue_is_down_the_delivery_is_accepted_and_the_sweep_processes_it(
    queue, monkeypatch, fake_orkestapay, caplog
):
    order = started_and_paid(fake_orkestapay)

    def broker_down(*args: Any, **kwargs: Any) -> Any:
        raise ConnectionError("the broker is down")

    monkeypatch.setattr(type(queue), "enqueue", broker_down)
    with caplog.at_level(logging.ERROR, logger="django_orkestapay.tasks"):
        response = deliver(Client(enforce_csrf_checks=True), payment_event(order))

    assert (response.status_code, response.json()) == (202, {"status": "queued"})  # stored durably: a sweep has it
    assert "Could not enqueue process_webhook_event" in caplog.text
    event = Event.objects.get()
    assert event.status == EventStatus.RECEIVED
    assert services.reprocess_stale_events().succeeded == 0  # too recent: its task may still come

    Event.objects.filter(pk=event.pk).update(received_at=timezone.now() - timedelta(seconds=301))
    summary = services.reprocess_stale_events()

    assert (summary.succeeded, summary.failed, summary.changed) == (1, 0, 1)
    event.refresh_from_db()
    assert (event.status, event.attempts) == (EventStatus.PROCESSED, 1)
    order.refresh_from_db()
    assert order.status == OrderStatus.PAID


def test_a_failed_task_leaves_the_event_failed_and_the_sweep_retries_it(queue, fake_orkestapay):
    order = started_and_paid(fake_orkestapay)
    deliver(Client(enforce_csrf_checks=True), payment_event(order))
    event = Event.objects.get()
    fake_orkestapay.inject_fault("GET", "/v1/orders/*", "status", status=503, times=3)

    with pytest.raises(Exception, match="503"):
        tasks.process_webhook_event.call(event.pk)

    event.refresh_from_db()
    assert (event.status, event.attempts) == (EventStatus.FAILED, 1)
    assert "503" in event.error
    # the sweep takes it up after EVENT_REPROCESS_AFTER (300 s), then after twice as long after each failure
    assert event.next_attempt_at is not None
    assert timedelta(seconds=299) < event.next_attempt_at - timezone.now() <= timedelta(seconds=300)
    assert tasks.reprocess_events_sweep.call() == {"succeeded": 0, "failed": 0, "changed": 0}  # not yet
    Event.objects.filter(pk=event.pk).update(next_attempt_at=timezone.now() - timedelta(seconds=1))
    fake_orkestapay.clear_faults()

    assert tasks.reprocess_events_sweep.call() == {"succeeded": 1, "failed": 0, "changed": 1}  # as a worker runs it
    event.refresh_from_db()
    assert (event.status, event.attempts, event.error) == (EventStatus.PROCESSED, 2, "")


def test_the_reprocess_sweep_takes_unsettled_verified_events_old_enough_fewest_attempts_first(settings, db):
    settings.ORKESTAPAY = {**settings.ORKESTAPAY, "EVENT_REPROCESS_AFTER": 300, "RECONCILE_WINDOW": 86400}
    now = timezone.now()

    def event(name: str, status: str, age: timedelta, attempts: int = 0, **fields: Any) -> Event:
        fields.setdefault("message_id", name)
        return Event.objects.create(
            claimed_message_id=name,
            verified=fields.pop("verified", True),
            status=status,
            attempts=attempts,
            received_at=now - age,
            payload={},
            **fields,
        )

    minutes = timedelta(minutes=1)
    failed_often = event("failed-often", EventStatus.FAILED, 30 * minutes, attempts=4, next_attempt_at=now - minutes)
    never_ran = event("never-ran", EventStatus.RECEIVED, 6 * minutes)
    failed_once = event("failed-once", EventStatus.FAILED, 20 * minutes, attempts=1, next_attempt_at=now)
    event("backing-off", EventStatus.FAILED, 20 * minutes, attempts=2, next_attempt_at=now + minutes)
    event("too-recent", EventStatus.RECEIVED, 4 * minutes)
    event("processed", EventStatus.PROCESSED, 30 * minutes, attempts=1, examined_with="0.0.1")
    event("ignored", EventStatus.IGNORED, 30 * minutes, attempts=1, examined_with=django_orkestapay.__version__)
    ignored_before = event("ignored-before-an-upgrade", EventStatus.IGNORED, 30 * minutes, attempts=1)
    event("too-old", EventStatus.FAILED, timedelta(days=2), attempts=9)
    event("rejected", EventStatus.REJECTED, 30 * minutes, message_id=None, verified=False)

    assert list(services.events_to_reprocess(now=now)) == [never_ran, ignored_before, failed_once, failed_often]


# ---------------------------------------------------------------------------------- sweeps and configuration


def test_every_sweep_runs_as_a_task_and_returns_its_counts(orkestapay_settings, fake_orkestapay):
    for name, sweep in tasks.SWEEPS.items():
        result = tasks.enqueue(sweep)
        assert result.status == TaskResultStatus.SUCCESSFUL, name
        assert set(result.return_value) == {"succeeded", "failed", "changed"}, name


def test_the_sync_sweep_reconciles_an_order_whose_webhook_was_lost(orkestapay_settings, fake_orkestapay):
    order = started_and_paid(fake_orkestapay)

    result = tasks.enqueue(tasks.sync_orders_sweep)

    assert result.return_value == {"succeeded": 1, "failed": 0, "changed": 1}
    order.refresh_from_db()
    assert order.status == OrderStatus.PAID


def test_reconcile_order_task(orkestapay_settings, fake_orkestapay):
    order = started_and_paid(fake_orkestapay)

    assert tasks.enqueue(tasks.reconcile_order, str(order.pk)).return_value is True
    assert tasks.enqueue(tasks.reconcile_order, str(order.pk)).return_value is False
    order.refresh_from_db()
    assert order.status == OrderStatus.PAID


def test_tasks_go_to_the_configured_backend_and_queue(settings, queue, fake_orkestapay):
    settings.TASKS = {
        "default": {"BACKEND": DUMMY_BACKEND},
        "payments": {"BACKEND": DUMMY_BACKEND, "QUEUES": ["orkestapay"]},
    }
    settings.ORKESTAPAY = {**settings.ORKESTAPAY, "TASK_BACKEND": "payments", "TASK_QUEUE": "orkestapay"}
    order = started_and_paid(fake_orkestapay)

    assert deliver(Client(enforce_csrf_checks=True), payment_event(order)).status_code == 202

    default: Any = task_backends["default"]
    payments: Any = task_backends["payments"]
    assert default.results == []
    [result] = payments.results
    assert (result.task.name, result.task.queue_name, result.backend) == (
        "process_webhook_event",
        "orkestapay",
        "payments",
    )


def test_an_order_without_a_webhook_event_is_not_touched_by_the_event_task(queue, db):
    assert services.process_stored_event(12345) == "missing"
    assert make_order().status == OrderStatus.CREATED


def _body(payload: Any) -> bytes:
    import json

    return json.dumps(payload).encode()


# ---------------------------------------------------------------------------------------------- the schedule


class Clock:
    def __init__(self) -> None:
        self.now = 1000.0

    def __call__(self) -> float:
        return self.now


def test_the_default_schedule(orkestapay_settings):
    assert tasks.schedule() == {
        "reprocess_events": 300.0,
        "expire_checkouts": 900.0,
        "reconcile_refunds": 900.0,
        "sync_orders": 1800.0,
    }


def test_the_schedule_setting_changes_or_turns_off_a_sweep(settings, orkestapay_settings):
    settings.ORKESTAPAY = {**orkestapay_settings, "SCHEDULE": {"sync_orders": 600, "reconcile_refunds": None}}
    assert tasks.schedule() == {"reprocess_events": 300.0, "expire_checkouts": 900.0, "sync_orders": 600.0}


def test_the_scheduler_enqueues_each_sweep_when_its_interval_has_passed(orkestapay_settings, fake_orkestapay):
    clock = Clock()  # the ImmediateBackend: each sweep runs (on an empty database) as it is enqueued
    scheduler = tasks.Scheduler(clock=clock)

    assert scheduler.tick() == ["reprocess_events", "expire_checkouts", "reconcile_refunds", "sync_orders"]
    assert scheduler.tick() == []
    assert scheduler.next_due() == 300.0
    clock.now += 300
    assert scheduler.tick() == ["reprocess_events"]
    clock.now += 600
    assert scheduler.tick() == ["reprocess_events", "expire_checkouts", "reconcile_refunds"]
    clock.now += 900
    assert scheduler.tick() == ["reprocess_events", "expire_checkouts", "reconcile_refunds", "sync_orders"]
    assert scheduler.last["sync_orders"].return_value == {"succeeded": 0, "failed": 0, "changed": 0}


def test_the_scheduler_does_not_pile_up_a_sweep_its_worker_has_not_run(queue):
    """The DummyBackend keeps every result READY (a worker that stopped): no second enqueue of the same sweep."""
    clock = Clock()
    scheduler = tasks.Scheduler(clock=clock)
    scheduler.tick()
    clock.now += 3600

    assert scheduler.tick() == []
    assert len(queue.results) == 4


def test_the_scheduler_enqueues_again_a_sweep_whose_worker_died_running_it(queue, caplog):
    """A worker SIGKILLed in the middle of a sweep leaves its result RUNNING for good (the database backend has no
    heartbeat): waited for up to LOST_SWEEP_AFTER, then taken as lost and enqueued again, once a period."""
    clock = Clock()
    scheduler = tasks.Scheduler(clock=clock)
    scheduler.tick()
    for result in queue.results:  # every sweep taken by a worker that then died
        object.__setattr__(result, "status", TaskResultStatus.RUNNING)

    clock.now += tasks.LOST_SWEEP_AFTER  # running this long: still possible
    assert scheduler.tick() == []
    clock.now += 1
    with caplog.at_level(logging.WARNING, logger="django_orkestapay.tasks"):
        assert scheduler.tick() == ["reprocess_events", "expire_checkouts", "reconcile_refunds", "sync_orders"]
    assert "The sync_orders sweep enqueued 3601 s ago is still reported running" in caplog.text
    assert len(queue.results) == 8
    assert scheduler.tick() == []  # the new ones are waiting (READY): no third


def test_the_scheduler_goes_on_when_the_backend_is_down(queue, monkeypatch, caplog):
    def broker_down(*args: Any, **kwargs: Any) -> Any:
        raise ConnectionError("the broker is down")

    monkeypatch.setattr(type(queue), "enqueue", broker_down)
    scheduler = tasks.Scheduler(clock=Clock())
    with caplog.at_level(logging.ERROR, logger="django_orkestapay.tasks"):
        assert scheduler.tick() == []
    assert "Could not enqueue the sync_orders sweep" in caplog.text
    monkeypatch.undo()
    assert len(scheduler.tick()) == 4  # tried again at the next tick


def test_the_schedule_command_runs_every_sweep_once_under_the_immediate_backend(orkestapay_settings, fake_orkestapay):
    from io import StringIO

    from django.core.management import call_command

    order = started_and_paid(fake_orkestapay)
    out = StringIO()

    call_command("orkestapay_schedule", "--once", stdout=out)

    output = out.getvalue()
    assert "Schedule: reprocess_events every 300 s, expire_checkouts every 900 s" in output
    assert "sync_orders: successful: {'succeeded': 1, 'failed': 0, 'changed': 1}" in output
    order.refresh_from_db()
    assert order.status == OrderStatus.PAID
