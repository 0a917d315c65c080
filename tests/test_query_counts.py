"""Exact database queries per request where tests/test_views.py (pay, reuse, completed) and tests/test_admin.py
(changelist: the same for 3 and 43 orders) do not already pin them: pay after the open checkout expired, the
canceled return, the webhook (processed, duplicate, ignored) and the admin order changelist with 10 and 1,000
orders.

Counted as data statements only (transaction control left out, as in tests/test_views.py), so the numbers are the
same on SQLite and PostgreSQL. bench/ prints the same counts next to its timings.
"""

from __future__ import annotations

import json
import time
import uuid
from collections.abc import Callable
from typing import Any

import pytest
from django.db import connection
from django.test import Client
from django.test.utils import CaptureQueriesContext
from django.urls import reverse

from django_orkestapay import services, tasks
from django_orkestapay.models import Checkout, CheckoutStatus, Event, EventStatus, Order, OrderStatus
from django_orkestapay.webhook_verification import sign_payload
from tests.conftest import hosted_page_post, local_path, make_order, pay_form, return_read_interval_passed
from tests.task_workers import DATABASE_TASKS
from tests.test_views import data_queries, sqlite_write_locks

pytestmark = pytest.mark.django_db(transaction=True)

SECRET = "whsec_" + "cXVlcnktY291bnRzLXRlc3Qtb25seS1rZXk="


def count_queries(call: Callable[[], Any]) -> tuple[int, Any]:
    """Run ``call``; return how many data statements it made and what it returned."""
    with CaptureQueriesContext(connection) as captured:
        result = call()
    return len(data_queries(captured.captured_queries)), result


def pay(client: Client, order: Order) -> str:
    response = client.post(reverse("orkestapay:pay"), pay_form(order))
    assert response.status_code == 302
    return str(response["Location"])


# ------------------------------------------------------------------------------------------------------------ pay


def test_pay_again_after_the_open_checkout_expired_query_count(client, orkestapay_settings, fake_orkestapay):
    order = make_order()
    pay(client, order)
    first = Checkout.objects.get(order=order)
    Checkout.objects.filter(pk=first.pk).update(expires_at=first.created_at)  # the buyer came back too late

    queries, location = count_queries(lambda: pay(client, order))

    # (SQLite: the order's write lock, an UPDATE that changes nothing, see services.locking), the order read and
    # locked, the order's checkouts (with whether a payment on each is in progress). The old checkout is open but
    # past its time: the buyer may have paid it a moment ago, so it is read from OrkestaPay before it is replaced,
    # and the read applied (SQLite's write lock again, the order, its checkouts, its payments, the order's fields
    # saved). Then the checkouts again, whether the new attempt's reference names anything yet, the checkout
    # insert, the order's ids (already pending: no transition). The old checkout is not expired here (only the
    # expiry sweep closes it).
    assert queries == 10 + 2 * sqlite_write_locks()
    assert fake_orkestapay.count_requests("GET", f"/v1/orders/{first.orkestapay_order_id}") == 1
    second = Checkout.objects.exclude(pk=first.pk).get(order=order)
    assert location == second.redirect_url
    assert second.merchant_reference == f"{order.merchant_order_id}-A2"
    assert Checkout.objects.get(pk=first.pk).status == CheckoutStatus.OPEN
    order.refresh_from_db()
    assert order.status == OrderStatus.PENDING
    assert order.orkestapay_order_id == second.orkestapay_order_id != first.orkestapay_order_id


# ------------------------------------------------------------------------------------------------ canceled return


def test_canceled_return_query_count(client, orkestapay_settings, fake_orkestapay):
    order = make_order()
    canceled_url = hosted_page_post(pay(client, order), "cancel").headers["Location"]

    queries, response = count_queries(lambda: client.get(local_path(canceled_url)))

    assert response.status_code == 200
    # checkout + order, (SQLite: the order's write lock, first in the transaction), lock order, the order's
    # checkouts, its payments (the ledger), insert the canceled payment OrkestaPay reports (the rich profile's
    # cancel records one; the evidence profile's makes none, as no source shows one), checkout update, order
    # update. Was 5 before the ledger: the attempts and the ledger are read to derive the order's status (another
    # attempt may be open or paid); the checkout is not locked apart (the order's lock covers its attempts). Then
    # one more for the page's *Try again* button: the attempts with their payments (services.payment_state: no
    # button while a payment is in progress or once money arrived, whatever the status says).
    canceled_payment_inserts = 1 if fake_orkestapay.profile == "rich" else 0  # the rich fake records the cancel
    assert queries == 7 + canceled_payment_inserts + sqlite_write_locks()
    order.refresh_from_db()
    assert order.status == OrderStatus.CANCELED
    assert Checkout.objects.get(order=order).status == CheckoutStatus.CANCELED


def test_late_cancel_of_a_paid_order_is_answered_from_the_database_in_one_query(
    client, orkestapay_settings, fake_orkestapay
):
    order = make_order()
    checkout_url = pay(client, order)
    completed_url = hosted_page_post(checkout_url, "pay").headers["Location"]
    assert client.get(local_path(completed_url)).status_code == 200
    checkout = Checkout.objects.get(order=order)
    canceled_path = local_path(checkout.canceled_url)
    return_read_interval_passed(order)  # so only the order's being paid keeps the return from reading

    api_calls = fake_orkestapay.count_requests()
    queries, response = count_queries(lambda: client.get(canceled_path))

    assert response.status_code == 200
    # checkout + order, and nothing else: a paid order is final for a return, so OrkestaPay is not asked and nothing
    # is written. Was 6 (lock, attempts, payments, refunds, order update) and a read of the API.
    assert queries == 1
    assert fake_orkestapay.count_requests() == api_calls
    order.refresh_from_db()
    assert order.status == OrderStatus.PAID


# -------------------------------------------------------------------------------------------------------- webhook


@pytest.fixture
def webhook_settings(settings, orkestapay_settings):
    settings.ORKESTAPAY = {**orkestapay_settings, "WEBHOOK_SECRETS": [SECRET]}
    return settings.ORKESTAPAY


def purchase_body(order_id: str, merchant_order_id: str) -> bytes:
    payment = {
        "payment_id": f"pay_{uuid.uuid4().hex}",
        "order_id": order_id,
        "merchant_order_id": merchant_order_id,
        "status": "COMPLETED",
        "amount": {"captured": 990, "currency": "MXN"},
    }
    envelope = {"data": {"payment": payment}, "type": "payment", "type_event": "payment.purchase", "version": 1}
    return json.dumps(envelope, separators=(",", ":")).encode()


def deliver(client: Client, body: bytes, message_id: str) -> Any:
    timestamp = int(time.time())
    headers = {
        "svix-id": message_id,
        "svix-timestamp": str(timestamp),
        "svix-signature": sign_payload(SECRET, message_id, timestamp, body),
    }
    return client.post(reverse("orkestapay:webhook"), data=body, content_type="application/json", headers=headers)


def test_webhook_processed_then_duplicate_query_counts(webhook_settings, fake_orkestapay):
    csrf_client = Client(enforce_csrf_checks=True)
    order = make_order()
    checkout = services.start_checkout(order, build_absolute_uri=lambda path: f"http://testserver{path}")
    assert checkout.orkestapay_checkout_id
    assert checkout.orkestapay_order_id
    fake_orkestapay.pay(checkout.orkestapay_checkout_id)
    body = purchase_body(checkout.orkestapay_order_id, checkout.merchant_reference)
    message_id = f"msg_{uuid.uuid4().hex}"

    processed, first = count_queries(lambda: deliver(csrf_client, body, message_id))
    duplicate, second = count_queries(lambda: deliver(csrf_client, body, message_id))

    assert (first.status_code, first.json()) == (200, {"status": "processed"})
    assert (second.status_code, second.json()) == (200, {"status": "duplicate"})
    # event insert, checkout + order by OrkestaPay order id, the unsettled events of that order (before the read:
    # the read settles them too, services.event_coverage; none here), (SQLite: the order's write lock, first in the
    # transaction, see services.locking), the order's locking read (before any event row is written: a concurrent
    # processing of the same order waits here), event settled (one conditional update; a concurrent processing of
    # the same event finds it settled), the order's checkouts, its payments, payment insert, checkout update, order
    # update. 11 before the event was inserted first and settled in one statement; 9 before events were covered.
    assert processed == 10 + sqlite_write_locks(1)
    # the insert meets the unique message id, then the event is read: already processed
    assert duplicate == 2
    event = Event.objects.get()
    assert (event.status, event.attempts) == (EventStatus.PROCESSED, 1)
    order.refresh_from_db()
    assert order.status == OrderStatus.PAID
    assert fake_orkestapay.count_requests("GET", f"/v1/orders/{checkout.orkestapay_order_id}") == 1


def test_webhook_for_an_unknown_order_query_count(webhook_settings, fake_orkestapay):
    body = purchase_body("ord_" + "0" * 32, "NOT-OURS")

    queries, response = count_queries(lambda: deliver(Client(enforce_csrf_checks=True), body, "msg_unknown"))

    assert (response.status_code, response.json()) == (200, {"status": "ignored"})
    # event insert, checkout by OrkestaPay order id, payment by its id, checkout by merchant reference, event settled
    # as ignored
    assert queries == 5
    assert Event.objects.get().status == EventStatus.IGNORED
    assert fake_orkestapay.count_requests() == 0


def test_queued_webhook_intake_and_its_task_query_counts(settings, webhook_settings, fake_orkestapay):
    """With the database task backend: the endpoint stores and enqueues in two statements, both inserts, no
    transaction control; the worker's task then makes the processing's statements plus the read of the event."""
    settings.TASKS = DATABASE_TASKS
    order = make_order()
    checkout = services.start_checkout(order, build_absolute_uri=lambda path: f"http://testserver{path}")
    assert checkout.orkestapay_checkout_id
    fake_orkestapay.pay(checkout.orkestapay_checkout_id)
    body = purchase_body(checkout.orkestapay_order_id, checkout.merchant_reference)

    with CaptureQueriesContext(connection) as captured:
        response = deliver(Client(enforce_csrf_checks=True), body, "msg_queued")

    assert (response.status_code, response.json()) == (202, {"status": "queued"})
    # event insert, task insert (the database backend's row), each committed by itself: no BEGIN, no COMMIT
    intake = [query["sql"].split()[:3] for query in captured.captured_queries]
    assert intake == [
        ["INSERT", "INTO", '"orkestapay_event"'],
        ["INSERT", "INTO", '"django_tasks_database_dbtaskresult"'],
    ]
    assert fake_orkestapay.count_requests("GET") == 0
    event = Event.objects.get()

    processing, outcome = count_queries(lambda: tasks.process_webhook_event.call(event.pk))

    assert outcome == "processed"
    # the event read, then the statements of processing it (the delivery's count above, less its insert)
    assert processing == 10 + sqlite_write_locks(1)
    order.refresh_from_db()
    assert order.status == OrderStatus.PAID


# ---------------------------------------------------------------------------------------------------------- admin


def test_order_changelist_makes_the_same_eight_queries_for_10_and_1000_orders(admin_client):
    url = reverse("admin:orkestapay_order_changelist")
    for index in range(10):
        make_order(merchant_order_id=f"FEW-{index:04d}")
    admin_client.get(url)  # the session's first request fills per-process caches (content types)

    few, few_response = count_queries(lambda: admin_client.get(url))
    for index in range(990):
        make_order(merchant_order_id=f"MANY-{index:04d}")
    many, many_response = count_queries(lambda: admin_client.get(url))

    assert few_response.status_code == many_response.status_code == 200
    assert few_response.context["cl"].result_count == 10
    assert many_response.context["cl"].result_count == 1000
    assert len(many_response.context["cl"].result_list) == 100  # one page
    # session, user, count, the page, date range and days (date_hierarchy), currencies and environments
    # (list_filter choices); no full-table count (show_full_result_count = False)
    assert few == many == 8
