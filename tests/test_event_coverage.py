"""One read for a burst of webhook events (services.event_coverage): the unsettled events of the same OrkestaPay
order stored before an event's read began are settled by that read; nothing else is."""

from __future__ import annotations

import dataclasses
import json
import threading
import time
import uuid
from concurrent.futures import ThreadPoolExecutor
from datetime import timedelta
from decimal import Decimal
from typing import Any

import pytest
from django.db import connection
from django.urls import reverse
from django.utils import timezone

from django_orkestapay import services, signals
from django_orkestapay.client.reads import MAX_PAYMENT_READS
from django_orkestapay.exceptions import APIConnectionError
from django_orkestapay.models import Event, EventStatus, Order, OrderStatus, Payment, Refund, RefundStatus
from django_orkestapay.services import event_coverage, reprocessing
from django_orkestapay.services import webhooks as webhook_services
from django_orkestapay.services.sync import read_attempt
from tests.conftest import make_paid_order
from tests.test_webhooks import started_and_paid as started

pytestmark = pytest.mark.django_db(transaction=True)


def stored(
    order_id: str, merchant_order_id: str, event_type: str = "payment.purchase", *, ago: float = 60, **payment: Any
) -> Event:
    """A verified delivery stored as the queued endpoint stores it, ``ago`` seconds ago, not processed."""
    body = {"order_id": order_id, "merchant_order_id": merchant_order_id, "status": "COMPLETED", **payment}
    raw = json.dumps({"data": {"payment": body}, "type": "payment", "type_event": event_type}).encode()
    event, outcome = services.store_webhook(message_id=f"msg_{uuid.uuid4().hex}", body=raw, headers={})
    assert outcome == "stored"
    event.received_at = timezone.now() - timedelta(seconds=ago)
    Event.objects.filter(pk=event.pk).update(received_at=event.received_at)
    return event


@pytest.fixture
def paid_signals():
    paid: list[uuid.UUID] = []
    signals.order_paid.connect(
        lambda sender, order, **kwargs: paid.append(order.pk), dispatch_uid="coverage", weak=False
    )
    yield paid
    signals.order_paid.disconnect(dispatch_uid="coverage")


def order_reads(fake, remote_order_id: str) -> int:
    return int(fake.count_requests("GET", f"/v1/orders/{remote_order_id}"))


def test_one_read_settles_the_older_events_of_the_same_order(orkestapay_settings, fake_orkestapay, paid_signals):
    order = started(fake_orkestapay)
    older = [stored(order.orkestapay_order_id, order.merchant_order_id, kind) for kind in ("payment.created", "x.y")]
    newest = stored(order.orkestapay_order_id, order.merchant_order_id)

    assert reprocessing.process_stored_event(newest.pk) == "processed"

    assert order_reads(fake_orkestapay, order.orkestapay_order_id) == 1
    for event in older:
        event.refresh_from_db()
        assert (event.status, event.covered_by_id, event.order_id, event.attempts) == (
            EventStatus.PROCESSED,
            newest.pk,
            order.pk,
            1,
        )
        # their tasks, when they run, find them settled: no read, nothing applied again
        assert reprocessing.process_stored_event(event.pk) == "duplicate"
    assert order_reads(fake_orkestapay, order.orkestapay_order_id) == 1
    assert Order.objects.get(pk=order.pk).status == OrderStatus.PAID
    assert paid_signals == [order.pk]


def test_an_older_event_is_covered_by_whichever_of_them_is_processed_first(orkestapay_settings, fake_orkestapay):
    order = started(fake_orkestapay)
    first = stored(order.orkestapay_order_id, order.merchant_order_id)
    second = stored(order.orkestapay_order_id, order.merchant_order_id)

    assert reprocessing.process_stored_event(first.pk) == "processed"

    second.refresh_from_db()
    assert (second.status, second.covered_by_id) == (EventStatus.PROCESSED, first.pk)
    assert order_reads(fake_orkestapay, order.orkestapay_order_id) == 1


def test_an_event_stored_while_the_read_is_out_is_processed_on_its_own(
    orkestapay_settings, fake_orkestapay, monkeypatch
):
    """Stored after the read was sent, it may report what the read did not see: it is left for its own read."""
    order = started(fake_orkestapay, pay=False)
    first = stored(order.orkestapay_order_id, order.merchant_order_id, "payment.created")
    late: list[Event] = []

    def read_then_pay(checkout, **kwargs):
        read = read_attempt(checkout, **kwargs)  # the order is not paid yet
        fake_orkestapay.pay(checkout.orkestapay_checkout_id)
        late.append(stored(order.orkestapay_order_id, order.merchant_order_id, ago=0))
        return read

    monkeypatch.setattr(webhook_services, "read_attempt", read_then_pay)
    assert reprocessing.process_stored_event(first.pk) == "processed"
    monkeypatch.setattr(webhook_services, "read_attempt", read_attempt)

    late[0].refresh_from_db()
    assert (late[0].status, late[0].covered_by_id) == (EventStatus.RECEIVED, None)
    assert Order.objects.get(pk=order.pk).status == OrderStatus.PENDING
    assert reprocessing.process_stored_event(late[0].pk) == "processed"
    assert Order.objects.get(pk=order.pk).status == OrderStatus.PAID


def test_an_event_that_just_arrived_keeps_its_own_read(orkestapay_settings, fake_orkestapay):
    """Should OrkestaPay's reads lag behind its events, a read sent a moment after an event arrived might not show
    what it reports: only events stored COVERED_AFTER before the read are covered."""
    order = started(fake_orkestapay)
    waited = stored(order.orkestapay_order_id, order.merchant_order_id, ago=event_coverage.COVERED_AFTER.seconds + 1)
    just_now = stored(order.orkestapay_order_id, order.merchant_order_id, ago=0)
    newest = stored(order.orkestapay_order_id, order.merchant_order_id, ago=0)

    assert reprocessing.process_stored_event(newest.pk) == "processed"

    waited.refresh_from_db()
    just_now.refresh_from_db()
    assert (waited.status, waited.covered_by_id) == (EventStatus.PROCESSED, newest.pk)
    assert (just_now.status, just_now.covered_by_id) == (EventStatus.RECEIVED, None)


def test_events_of_another_attempt_another_order_or_naming_only_our_reference_are_not_covered(
    orkestapay_settings, fake_orkestapay
):
    order = started(fake_orkestapay, pay=False)
    first_attempt = order.checkouts.get()
    services.sync_checkout(first_attempt, canceled_by_buyer=True)  # the buyer canceled, then paid a new attempt
    second_attempt = services.start_checkout(order, build_absolute_uri=lambda path: f"http://testserver{path}")
    assert second_attempt.orkestapay_order_id != first_attempt.orkestapay_order_id
    fake_orkestapay.pay(second_attempt.orkestapay_checkout_id)
    other_order = started(fake_orkestapay)
    of_first_attempt = stored(first_attempt.orkestapay_order_id, order.merchant_order_id, "payment.created")
    of_other_order = stored(other_order.orkestapay_order_id, other_order.merchant_order_id)
    reference_only = stored("", first_attempt.merchant_reference)
    newest = stored(second_attempt.orkestapay_order_id, second_attempt.merchant_reference)

    assert reprocessing.process_stored_event(newest.pk) == "processed"

    assert Order.objects.get(pk=order.pk).status == OrderStatus.PAID
    for event in (of_first_attempt, of_other_order, reference_only):
        event.refresh_from_db()
        assert (event.status, event.covered_by_id) == (EventStatus.RECEIVED, None)
    assert reprocessing.process_stored_event(of_first_attempt.pk) == "processed"  # its own read, of its attempt
    assert order_reads(fake_orkestapay, first_attempt.orkestapay_order_id) >= 1


def test_a_covered_event_whose_own_read_was_out_still_applies_it(orkestapay_settings, fake_orkestapay, monkeypatch):
    """Its processing raced the one that covered it: its own read, maybe the newer, is applied, not dropped."""
    order = started(fake_orkestapay, pay=False)
    covering = stored(order.orkestapay_order_id, order.merchant_order_id, "payment.created")
    racing = stored(order.orkestapay_order_id, order.merchant_order_id)
    calls: list[str] = []

    def read(checkout, **kwargs):
        calls.append(checkout.orkestapay_order_id)
        if len(calls) == 1:  # the racing event's read: the order is paid meanwhile, and the other event processed
            fake_orkestapay.pay(checkout.orkestapay_checkout_id)
            answer = read_attempt(checkout, **kwargs)
            monkeypatch.setattr(webhook_services, "read_attempt", read_attempt)
            assert reprocessing.process_stored_event(covering.pk) == "processed"
            return answer
        return read_attempt(checkout, **kwargs)

    monkeypatch.setattr(webhook_services, "read_attempt", read)
    assert reprocessing.process_stored_event(racing.pk) == "processed"

    racing.refresh_from_db()
    assert (racing.status, racing.covered_by_id, racing.attempts) == (EventStatus.PROCESSED, covering.pk, 1)
    assert Order.objects.get(pk=order.pk).status == OrderStatus.PAID


@pytest.mark.orkestapay_profile("evidence")  # no transaction id, no refunded amount: only the event can tell
def test_a_covered_refund_event_settles_its_refund(orkestapay_settings, fake_orkestapay):
    paid = make_paid_order(fake_orkestapay)
    fake_orkestapay.refund_outcome = "pending"
    refund = services.refund_order(paid, amount=Decimal("100.00"))
    assert refund.status == RefundStatus.PENDING
    refunded = stored(
        paid.orkestapay_order_id, paid.merchant_order_id, "payment.refund", payment_id=paid.orkestapay_payment_id
    )
    newest = stored(paid.orkestapay_order_id, paid.merchant_order_id, "payment.capture")

    assert reprocessing.process_stored_event(newest.pk) == "processed"

    refunded.refresh_from_db()
    assert refunded.covered_by_id == newest.pk
    refund.refresh_from_db()
    assert refund.status == RefundStatus.SUCCEEDED


def test_the_reprocess_sweep_reads_once_for_the_failed_events_of_one_order(orkestapay_settings, fake_orkestapay):
    order = started(fake_orkestapay)
    events = [stored(order.orkestapay_order_id, order.merchant_order_id) for _ in range(3)]
    Event.objects.filter(pk__in=[e.pk for e in events]).update(status=EventStatus.FAILED)

    summary = services.reprocess_events(Event.objects.filter(status=EventStatus.FAILED).order_by("received_at"))

    assert (summary.succeeded, summary.failed) == (3, 0)
    assert order_reads(fake_orkestapay, order.orkestapay_order_id) == 1
    assert set(Event.objects.values_list("status", flat=True)) == {EventStatus.PROCESSED}


@pytest.mark.postgres
def test_two_events_of_one_order_processed_at_once_cover_each_other_without_a_deadlock(
    orkestapay_settings, fake_orkestapay, paid_signals, monkeypatch
):
    """Both processings read with the other's event unsettled, then write at once: each locks the order before any
    event row, so the second waits for the first, finds its event covered, and applies its own read; no deadlock."""
    if connection.vendor != "postgresql":
        pytest.skip("needs PostgreSQL's row locks: set TEST_DATABASE_URL (scripts/test does)")
    order = started(fake_orkestapay)
    events = [stored(order.orkestapay_order_id, order.merchant_order_id) for _ in range(2)]
    both_read = threading.Barrier(2, timeout=20)

    def read_together(checkout, **kwargs):
        answer = read_attempt(checkout, **kwargs)
        both_read.wait()
        return answer

    monkeypatch.setattr(webhook_services, "read_attempt", read_together)

    def process(event_id: int) -> str:
        try:
            return reprocessing.process_stored_event(event_id)
        finally:
            connection.close()

    with ThreadPoolExecutor(max_workers=2) as pool:
        outcomes = list(pool.map(process, [event.pk for event in events]))

    assert outcomes == ["processed", "processed"]
    covered = {event.pk: event.covered_by_id for event in Event.objects.filter(pk__in=[e.pk for e in events])}
    assert any(by is not None for by in covered.values())  # one settled the other
    assert set(Event.objects.values_list("status", flat=True)) == {EventStatus.PROCESSED}
    assert Order.objects.get(pk=order.pk).status == OrderStatus.PAID
    assert paid_signals == [order.pk]


def test_the_admin_names_the_event_whose_read_settled_one(admin_client, orkestapay_settings, fake_orkestapay):
    order = started(fake_orkestapay)
    older = stored(order.orkestapay_order_id, order.merchant_order_id, "payment.created")
    newest = stored(order.orkestapay_order_id, order.merchant_order_id)
    assert reprocessing.process_stored_event(newest.pk) == "processed"

    page = admin_client.get(reverse("admin:orkestapay_event_change", args=[older.pk]))

    assert page.status_code == 200
    assert "field-covered_by" in page.text
    assert reverse("admin:orkestapay_event_change", args=[newest.pk]) in page.text


# ----------------------------------------------------------------------- found in review: what coverage must not do


def without_details(read: Any) -> Any:
    """The read as OrkestaPay's public record shows some answers: the payment named, its amounts left out."""
    strip = lambda p: dataclasses.replace(p, amount=None, refunded=None, transactions=(), partial=True)  # noqa: E731
    remote = dataclasses.replace(read.remote, payments=tuple(map(strip, read.remote.payments)))
    return dataclasses.replace(read, remote=remote, listed=tuple(map(strip, read.listed)))


@pytest.mark.parametrize("processed", ["older", "newer"])
def test_the_newest_body_fills_in_a_payment_whichever_event_is_processed(
    orkestapay_settings, fake_orkestapay, monkeypatch, processed
):
    """A purchase event (nothing refunded) and a later refund event (all of it refunded in OrkestaPay's portal),
    the API naming the payment without amounts: the refund lands whether the older or the newer event's read
    covers the other."""
    paid = make_paid_order(fake_orkestapay)
    payment = {"payment_id": paid.orkestapay_payment_id}
    purchase = stored(
        paid.orkestapay_order_id,
        paid.merchant_order_id,
        ago=60,
        **payment,
        amount={"captured": "990.00", "refunded": "0.00", "currency": "MXN"},
    )
    refund = stored(
        paid.orkestapay_order_id,
        paid.merchant_order_id,
        "payment.refund",
        ago=30,
        **payment,
        amount={"captured": "990.00", "refunded": "990.00", "currency": "MXN"},
    )
    monkeypatch.setattr(webhook_services, "read_attempt", lambda c, **kw: without_details(read_attempt(c, **kw)))
    first, other = (purchase, refund) if processed == "older" else (refund, purchase)

    assert reprocessing.process_stored_event(first.pk) == "processed"

    other.refresh_from_db()
    assert (other.status, other.covered_by_id) == (EventStatus.PROCESSED, first.pk)
    assert Payment.objects.get(orkestapay_payment_id=paid.orkestapay_payment_id).refunded_amount == Decimal("990.00")


@pytest.mark.orkestapay_profile("evidence")  # no transaction id, no refunded amount: only the event can tell
def test_a_refund_event_settled_by_another_events_read_settles_no_later_refund(
    orkestapay_settings, fake_orkestapay, monkeypatch
):
    """The refund event's own read was out when another event's read covered it (and settled the refund): its own
    processing then applies its read, but must not settle the shop's next pending refund of that payment."""
    paid = make_paid_order(fake_orkestapay)
    fake_orkestapay.refund_outcome = "pending"
    first = services.refund_order(paid, amount=Decimal("100.00"))
    payment = {"payment_id": paid.orkestapay_payment_id}
    refund_event = stored(paid.orkestapay_order_id, paid.merchant_order_id, "payment.refund", ago=60, **payment)
    capture = stored(paid.orkestapay_order_id, paid.merchant_order_id, "payment.capture", ago=30, **payment)
    second: list[Refund] = []

    def read(checkout: Any, **kwargs: Any) -> Any:
        answer = read_attempt(checkout, **kwargs)
        monkeypatch.setattr(webhook_services, "read_attempt", read_attempt)
        assert reprocessing.process_stored_event(capture.pk) == "processed"  # covers the refund event
        first.refresh_from_db()
        assert first.status == RefundStatus.SUCCEEDED
        second.append(services.refund_order(Order.objects.get(pk=paid.pk), amount=Decimal("50.00")))
        return answer

    monkeypatch.setattr(webhook_services, "read_attempt", read)
    assert reprocessing.process_stored_event(refund_event.pk) == "processed"

    second[0].refresh_from_db()
    assert second[0].status == RefundStatus.PENDING


def test_a_covered_events_payment_is_always_read(orkestapay_settings, fake_orkestapay, monkeypatch):
    """One read reads at most MAX_PAYMENT_READS payments by id: an event whose payment would not fit is left to
    its own processing, not settled unread."""
    order = started(fake_orkestapay)
    many = [
        stored(order.orkestapay_order_id, order.merchant_order_id, ago=60 + n, payment_id=f"pay_{n:02d}")
        for n in range(MAX_PAYMENT_READS + 3)
    ]
    newest = stored(order.orkestapay_order_id, order.merchant_order_id, ago=10, payment_id="pay_own")
    asked: list[list[str]] = []

    def read(checkout: Any, **kwargs: Any) -> Any:
        asked.append(list(kwargs["payment_ids"]))
        return read_attempt(checkout, **kwargs)

    monkeypatch.setattr(webhook_services, "read_attempt", read)
    assert reprocessing.process_stored_event(newest.pk) == "processed"

    covered = set(Event.objects.filter(covered_by=newest).values_list("pk", flat=True))
    assert len(covered) == MAX_PAYMENT_READS - 1  # with the event's own payment, as many as one read reads
    assert len(asked[0]) == MAX_PAYMENT_READS
    assert {e.pk for e in many} - covered == {e.pk for e in many[-4:]}  # the oldest, left RECEIVED
    assert set(Event.objects.filter(pk__in=[e.pk for e in many[-4:]]).values_list("status", flat=True)) == {
        EventStatus.RECEIVED
    }


def test_an_event_older_than_the_reconcile_window_is_not_covered(orkestapay_settings, fake_orkestapay, settings):
    order = started(fake_orkestapay)
    window = float(settings.ORKESTAPAY.get("RECONCILE_WINDOW") or 3 * 86400)
    ancient = stored(order.orkestapay_order_id, order.merchant_order_id, ago=window + 60)
    newest = stored(order.orkestapay_order_id, order.merchant_order_id, ago=10)

    assert reprocessing.process_stored_event(newest.pk) == "processed"

    ancient.refresh_from_db()
    assert (ancient.status, ancient.covered_by_id) == (EventStatus.RECEIVED, None)


@pytest.mark.postgres
def test_an_events_first_failure_beside_a_read_that_covers_it_does_not_deadlock(
    orkestapay_settings, fake_orkestapay, monkeypatch
):
    """B's read of the older event fails while A, holding the order's lock, is about to settle that event as
    covered: B records the failure under the order's lock too, so it waits for A instead of holding the event's
    row against it (PostgreSQL: the failure's foreign key to the order needs the order's row)."""
    if connection.vendor != "postgresql":
        pytest.skip("needs PostgreSQL's row locks: set TEST_DATABASE_URL (scripts/test does)")
    order = started(fake_orkestapay)
    sibling = stored(order.orkestapay_order_id, order.merchant_order_id, ago=60)
    covering = stored(order.orkestapay_order_id, order.merchant_order_id, ago=30)
    a_locked = threading.Event()

    def read(checkout: Any, **kwargs: Any) -> Any:
        if threading.current_thread().name == "B":
            assert a_locked.wait(20)
            raise APIConnectionError("connection reset")
        return read_attempt(checkout, **kwargs)

    settle_covered = event_coverage.settle_covered

    def settle_slowly(covered: Any, **kwargs: Any) -> Any:
        a_locked.set()
        time.sleep(1.0)  # B's failure is recorded meanwhile
        return settle_covered(covered, **kwargs)

    monkeypatch.setattr(webhook_services, "read_attempt", read)
    monkeypatch.setattr(webhook_services, "settle_covered", settle_slowly)
    outcomes: dict[str, Any] = {}

    def run(name: str, pk: int) -> None:
        try:
            outcomes[name] = reprocessing.process_stored_event(pk)
        except Exception as exc:  # noqa: BLE001 - reported by the assertion below
            outcomes[name] = exc
        finally:
            connection.close()

    threads = [
        threading.Thread(target=run, name="A", args=("A", covering.pk)),
        threading.Thread(target=run, name="B", args=("B", sibling.pk)),
    ]
    for thread in threads:
        thread.start()
    for thread in threads:
        thread.join(30)

    # B waited for A's commit, then found its event settled by A's read: nothing left for OrkestaPay to retry
    assert outcomes == {"A": "processed", "B": "duplicate"}
    sibling.refresh_from_db()
    assert (sibling.status, sibling.covered_by_id) == (EventStatus.PROCESSED, covering.pk)


def test_a_payment_only_a_covered_event_names_cannot_hold_the_event_up(orkestapay_settings, fake_orkestapay):
    """The read fails on a payment that only the older event named (OrkestaPay answering 503 for it): the event is
    read again without coverage and processed; the older event is left to its own processing."""
    order = started(fake_orkestapay)
    older = stored(order.orkestapay_order_id, order.merchant_order_id, ago=60, payment_id="pay_unreadable")
    newest = stored(order.orkestapay_order_id, order.merchant_order_id, ago=10)
    fake_orkestapay.inject_fault("GET", "/v1/payments/pay_unreadable", "status", status=503, times=100)

    assert reprocessing.process_stored_event(newest.pk) == "processed"

    assert Order.objects.get(pk=order.pk).status == OrderStatus.PAID
    older.refresh_from_db()
    assert (older.status, older.covered_by_id) == (EventStatus.RECEIVED, None)
