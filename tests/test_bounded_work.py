"""Bounded work per visitor, counted at the fake gateway: a return for a paid order reads nothing, other returns read
at most once per ``RETURN_SYNC_INTERVAL``, the pending and "confirming" pages back off and stop, pay attempts that
OrkestaPay refuses are limited per order; and a database that stays busy answers 503, never 500, changing nothing.
(Rejected webhook deliveries: tests/test_rejected_webhooks.py.)"""

from __future__ import annotations

import json
import time
import uuid
from collections import Counter
from datetime import timedelta
from typing import Any
from unittest import mock
from urllib.parse import parse_qs, urlsplit

import pytest
from django.core.cache import caches
from django.test import Client
from django.urls import reverse

from django_orkestapay.models import Checkout, CheckoutStatus, Event, Order, OrderStatus
from django_orkestapay.views import RECHECK_DELAYS, TRANSFER_RECHECK_DELAYS
from django_orkestapay.webhook_verification import sign_payload
from tests.conftest import (
    database_busy,
    hosted_page_post,
    local_path,
    make_order,
    pay_form,
    return_read_interval_passed,
)

pytestmark = pytest.mark.django_db(transaction=True)

SECRET = "whsec_" + "Ym91bmRlZC13b3JrLXRlc3RzLW9ubHkta2V5"


def pay(client: Client, order: Order) -> Any:
    return client.post(reverse("orkestapay:pay"), pay_form(order))


def order_reads(fake: Any, order: Order) -> int:
    """``GET /v1/orders/...`` requests for the order's attempts (the reads a return costs)."""
    return sum(
        fake.count_requests("GET", f"/v1/orders/{checkout.orkestapay_order_id}")
        for checkout in Checkout.objects.filter(order=order).exclude(orkestapay_order_id="")
    )


def paid_at_the_gateway(client: Client, order: Order) -> str:
    """The buyer pays on the hosted page; the completed return URL (not visited yet)."""
    return str(hosted_page_post(pay(client, order)["Location"], "pay").headers["Location"])


def pending_at_the_gateway(client: Client, order: Order, fake: Any) -> str:
    """The buyer starts a SPEI transfer (in progress at OrkestaPay); the completed return URL."""
    pay(client, order)
    return str(fake.pay_pending(Checkout.objects.get(order=order).orkestapay_checkout_id))


# ---------------------------------------------------------------------------------------------------------- returns


def test_a_return_for_a_paid_order_reads_nothing_however_often(client, orkestapay_settings, fake_orkestapay):
    order = make_order()
    completed = local_path(paid_at_the_gateway(client, order))
    assert client.get(completed).status_code == 200  # this one reads OrkestaPay and records the payment
    assert order_reads(fake_orkestapay, order) == 1

    for _ in range(20):
        return_read_interval_passed(order)  # not even the interval: paid is final for a return
        response = client.get(completed)
        assert b'data-testid="orkestapay-paid"' in response.content
    canceled = client.get(local_path(Checkout.objects.get(order=order).canceled_url))

    assert canceled.status_code == 200
    assert order_reads(fake_orkestapay, order) == 1
    order.refresh_from_db()
    assert order.status == OrderStatus.PAID


def test_returns_within_the_interval_read_once_and_answer_from_the_database(
    client, orkestapay_settings, fake_orkestapay
):
    order = make_order()
    completed = local_path(pending_at_the_gateway(client, order, fake_orkestapay))

    pages = [client.get(completed) for _ in range(30)]

    assert {page.status_code for page in pages} == {200}
    assert all(b'data-testid="orkestapay-pending"' in page.content for page in pages)
    assert order_reads(fake_orkestapay, order) == 1
    return_read_interval_passed(order)
    client.get(completed)
    assert order_reads(fake_orkestapay, order) == 2


def test_the_interval_holds_across_clients_and_return_links_of_the_order(client, orkestapay_settings, fake_orkestapay):
    order = make_order()
    completed = local_path(pending_at_the_gateway(client, order, fake_orkestapay))
    canceled = local_path(Checkout.objects.get(order=order).canceled_url)

    client.get(completed)
    Client().get(completed)  # another browser (or process: the key is in the cache they share)
    Client().get(canceled)

    assert order_reads(fake_orkestapay, order) == 1


def test_an_interval_of_zero_reads_on_every_return(client, settings, orkestapay_settings, fake_orkestapay):
    settings.ORKESTAPAY = {**orkestapay_settings, "RETURN_SYNC_INTERVAL": 0}
    order = make_order()
    completed = local_path(pending_at_the_gateway(client, order, fake_orkestapay))

    for _ in range(3):
        client.get(completed)

    assert order_reads(fake_orkestapay, order) == 3


def test_a_cache_that_fails_never_keeps_a_buyer_from_the_confirmation(client, orkestapay_settings, fake_orkestapay):
    order = make_order()
    completed = local_path(paid_at_the_gateway(client, order))
    with mock.patch.object(type(caches["default"]), "add", side_effect=ConnectionError("cache down")):
        response = client.get(completed)
    assert b'data-testid="orkestapay-paid"' in response.content
    assert order_reads(fake_orkestapay, order) == 1


def test_a_canceled_order_is_not_final_for_a_return(client, orkestapay_settings, fake_orkestapay):
    """Money can still arrive on a canceled attempt (a transfer that settles late, the buyer who went back and
    paid): the buyer in front of the page is told, after the interval."""
    order = make_order()
    checkout_url = pay(client, order)["Location"]
    canceled = hosted_page_post(checkout_url, "cancel").headers["Location"]
    assert client.get(local_path(canceled)).status_code == 200
    order.refresh_from_db()
    assert order.status == OrderStatus.CANCELED
    checkout = Checkout.objects.get(order=order)
    fake_orkestapay.set_order_status(checkout.orkestapay_order_id, "COMPLETED")

    within = client.get(local_path(checkout.completed_url))
    return_read_interval_passed(order)
    after = client.get(local_path(checkout.completed_url))

    assert b'data-testid="orkestapay-canceled"' in within.content  # inside the interval: the database's answer
    assert b'data-testid="orkestapay-paid"' in after.content
    assert order_reads(fake_orkestapay, order) == 2


def test_a_gateway_outage_costs_one_read_attempt_per_interval(client, orkestapay_settings, fake_orkestapay):
    order = make_order()
    completed = local_path(paid_at_the_gateway(client, order))
    fake_orkestapay.inject_fault("GET", "/v1/orders/*", "status", status=503, times=100)

    answers = [client.get(completed).status_code for _ in range(10)]

    # the first asks (and fails: 503 page); the others, inside the interval, show the pending page without asking
    assert answers == [503] + [200] * 9
    # one read: the order and its payments list, asked at once (MAX_RETRIES is 0 in the tests)
    assert fake_orkestapay.count_requests("GET", prefix="/v1/orders/") == 2
    order.refresh_from_db()
    assert order.status == OrderStatus.PENDING


# ------------------------------------------------------------------------------------------------------ the backoff


def refresh_of(response: Any) -> tuple[str, dict[str, list[str]]]:
    delay, url = response["Refresh"].split("; url=")
    return delay, parse_qs(urlsplit(url).query)


def test_the_pending_page_of_a_transfer_backs_off_for_hours_then_stops_and_offers_a_button(
    client, orkestapay_settings, fake_orkestapay
):
    order = make_order()
    completed = local_path(pending_at_the_gateway(client, order, fake_orkestapay))
    seen = []
    url = completed
    for _ in TRANSFER_RECHECK_DELAYS:
        response = client.get(url)
        delay, query = refresh_of(response)
        seen.append(delay)
        assert query["orkestapay"] == parse_qs(urlsplit(completed).query)["orkestapay"]  # the signed link kept
        url = f"{urlsplit(completed).path}?{urlsplit(response['Refresh'].split('; url=')[1]).query}"
    last = client.get(url)

    # a transfer can take hours: from 30 seconds to half an hour between checks, about three and a half hours in all
    assert seen == ["30", "60", "120", "300", "600", "900", *["1800"] * 6]
    assert 3 * 3600 < sum(TRANSFER_RECHECK_DELAYS) < 4 * 3600
    stopped_at = str(len(TRANSFER_RECHECK_DELAYS))
    assert parse_qs(urlsplit(url).query)["check"] == [stopped_at]
    assert "Refresh" not in last
    page = last.content.decode()
    assert 'data-testid="orkestapay-check-again"' in page
    assert f"check={stopped_at}" in page
    assert 'data-testid="orkestapay-pay-button"' not in page  # a payment is in progress: nothing to pay again


@pytest.mark.parametrize(
    ("check", "expected"), [("0", "30"), ("2", "120"), ("-4", "30"), ("abc", "30"), ("11", "1800"), ("99", None)]
)
def test_the_check_count_in_the_url_changes_only_the_page(
    client, settings, orkestapay_settings, fake_orkestapay, check, expected
):
    settings.ORKESTAPAY = {**orkestapay_settings, "RETURN_SYNC_INTERVAL": 0}
    order = make_order()
    completed = local_path(pending_at_the_gateway(client, order, fake_orkestapay))

    response = client.get(f"{completed}&check={check}")

    assert response.status_code == 200
    assert (refresh_of(response)[0] if "Refresh" in response else None) == expected
    assert order_reads(fake_orkestapay, order) == 1  # one read, whatever the count says


def test_the_confirming_page_backs_off_too(client, orkestapay_settings, fake_orkestapay):
    order = make_order()
    completed = local_path(paid_at_the_gateway(client, order))
    fake_orkestapay.inject_fault("GET", "/v1/orders/*", "status", status=503, times=100)

    first = client.get(completed)
    return_read_interval_passed(order)
    stopped = client.get(f"{completed}&check=3")

    # a confirmation that could not be made: the short schedule, whatever the order's payment is (not a transfer's)
    assert RECHECK_DELAYS == (5, 10, 30)
    assert (first.status_code, first["Retry-After"], refresh_of(first)[0]) == (503, "5", "5")
    assert (stopped.status_code, stopped["Retry-After"]) == (503, "30")
    assert "Refresh" not in stopped
    assert 'data-testid="orkestapay-check-again"' in stopped.content.decode()
    assert 'data-testid="orkestapay-pay-button"' not in stopped.content.decode()  # the buyer may have paid


# ------------------------------------------------------------------------------------------------ refused pay attempts


def test_fifty_pay_attempts_that_orkestapay_refuses_make_three_calls(client, orkestapay_settings, fake_orkestapay):
    order = make_order()
    fake_orkestapay.inject_fault("POST", "/v1/checkouts", "status", status=400, times=100)

    answers = [pay(client, order) for _ in range(50)]

    assert Counter(response.status_code for response in answers) == Counter({503: 3, 429: 47})
    assert fake_orkestapay.count_requests("POST", "/v1/checkouts") == 3
    limited = answers[3]
    assert 1 <= int(limited["Retry-After"]) <= 60
    page = limited.content.decode()
    assert f"try again in {limited['Retry-After']} seconds" in page or "segundos" in page
    assert 'data-testid="orkestapay-shop-link"' in page
    assert Checkout.objects.filter(order=order, status=CheckoutStatus.FAILED).count() == 3


def test_pay_works_again_once_the_failures_leave_the_window(client, orkestapay_settings, fake_orkestapay):
    order = make_order()
    fake_orkestapay.inject_fault("POST", "/v1/checkouts", "status", status=500, times=3)
    assert [pay(client, order).status_code for _ in range(4)] == [503, 503, 503, 429]

    Checkout.objects.filter(order=order).update(
        created_at=Checkout.objects.get(pk=_oldest(order)).created_at - timedelta(seconds=61)
    )

    assert pay(client, order).status_code == 302
    assert fake_orkestapay.count_requests("POST", "/v1/checkouts") == 4


def _oldest(order: Order) -> uuid.UUID:
    return Checkout.objects.filter(order=order).order_by("created_at").values_list("pk", flat=True)[0]


def test_a_limit_of_zero_turns_it_off(client, settings, orkestapay_settings, fake_orkestapay):
    settings.ORKESTAPAY = {**orkestapay_settings, "FAILED_CHECKOUT_LIMIT": 0}
    order = make_order()
    fake_orkestapay.inject_fault("POST", "/v1/checkouts", "status", status=400, times=100)

    assert {pay(client, order).status_code for _ in range(6)} == {503}
    assert fake_orkestapay.count_requests("POST", "/v1/checkouts") == 6


def test_the_limit_is_per_order(client, orkestapay_settings, fake_orkestapay):
    refused, other = make_order(), make_order()
    fake_orkestapay.inject_fault("POST", "/v1/checkouts", "status", status=400, times=3)
    assert [pay(client, refused).status_code for _ in range(4)] == [503, 503, 503, 429]
    assert pay(client, other).status_code == 302


# ------------------------------------------------------------------------------------------ a database that is busy


def test_pay_with_the_database_busy_is_503_before_orkestapay_is_asked(client, orkestapay_settings, fake_orkestapay):
    order = make_order()
    with database_busy():
        response = pay(client, order)
    assert response.status_code == 503
    assert "Traceback" not in response.content.decode()
    assert fake_orkestapay.count_requests("POST", "/v1/checkouts") == 0  # the write lock comes first
    assert not Checkout.objects.exists()
    assert pay(client, order).status_code == 302


def test_a_return_with_the_database_busy_is_the_confirming_page_and_a_retry_pays(
    client, orkestapay_settings, fake_orkestapay
):
    order = make_order()
    completed = local_path(paid_at_the_gateway(client, order))
    with database_busy():
        response = client.get(completed)
    assert response.status_code == 503
    assert 'data-testid="orkestapay-error"' in response.content.decode()
    assert response["Refresh"].startswith("5; url=")
    order.refresh_from_db()
    assert (order.status, order.last_error) == (OrderStatus.PENDING, "")

    return_read_interval_passed(order)
    assert b'data-testid="orkestapay-paid"' in client.get(completed).content
    order.refresh_from_db()
    assert order.status == OrderStatus.PAID


def test_a_webhook_with_the_database_busy_is_503_and_its_retry_is_processed(
    settings, orkestapay_settings, fake_orkestapay
):
    settings.ORKESTAPAY = {**orkestapay_settings, "WEBHOOK_SECRETS": [SECRET]}
    order = make_order()
    paid_at_the_gateway(Client(), order)
    checkout = Checkout.objects.get(order=order)
    body = json.dumps(
        {"type_event": "payment.purchase", "data": {"payment": {"order_id": checkout.orkestapay_order_id}}}
    ).encode()
    timestamp = int(time.time())
    headers = {
        "svix-id": "msg_busy",
        "svix-timestamp": str(timestamp),
        "svix-signature": sign_payload(SECRET, "msg_busy", timestamp, body),
    }
    webhook_client = Client(enforce_csrf_checks=True)

    def deliver() -> Any:
        return webhook_client.post(
            reverse("orkestapay:webhook"), data=body, content_type="application/json", headers=headers
        )

    with database_busy():
        busy = deliver()
    assert (busy.status_code, busy["Retry-After"]) == (503, "5")
    assert not Event.objects.exists()

    retried = deliver()
    assert (retried.status_code, retried.json()) == (200, {"status": "processed"})
    order.refresh_from_db()
    assert order.status == OrderStatus.PAID
