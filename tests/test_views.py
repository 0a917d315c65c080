"""The buyer's journey through the views, with the fake gateway over real HTTP."""

from __future__ import annotations

import time
import uuid
from urllib.parse import parse_qs, urlsplit

import pytest
import responses
from django.db import connection
from django.test import Client
from django.test.utils import CaptureQueriesContext
from django.urls import reverse

from django_orkestapay.models import Checkout, CheckoutStatus, Order, OrderStatus
from django_orkestapay.signing import CANCELED, COMPLETED, RETURN_PARAM, sign_pay_reference, sign_return
from tests.conftest import (
    assert_leads_to_hosted_page,
    hosted_page_post,
    local_path,
    make_order,
    pay_form,
    return_read_interval_passed,
)

pytestmark = pytest.mark.django_db(transaction=True)


def pay(client: Client, order: Order):
    return client.post(reverse("orkestapay:pay"), pay_form(order))


def snapshot(order: Order) -> tuple[object, ...]:
    order.refresh_from_db()
    return (order.status, order.remote_status, order.needs_review, order.paid_at, Checkout.objects.count())


def test_pay_redirects_to_the_hosted_checkout(client, orkestapay_settings, fake_orkestapay):
    order = make_order()
    response = pay(client, order)
    assert response.status_code == 302
    checkout = Checkout.objects.get(order=order)
    assert_leads_to_hosted_page(response["Location"], checkout, fake_orkestapay)


def test_pay_is_post_only(client, orkestapay_settings, fake_orkestapay):
    order = make_order()
    response = client.get(reverse("orkestapay:pay"), pay_form(order))
    assert response.status_code == 405
    assert fake_orkestapay.count_requests() == 0


def test_pay_needs_csrf(orkestapay_settings, fake_orkestapay):
    order = make_order()
    response = pay(Client(enforce_csrf_checks=True), order)
    assert response.status_code == 403
    assert Checkout.objects.count() == 0
    assert fake_orkestapay.count_requests() == 0


@pytest.mark.parametrize("value", ["", "not-a-uuid", "11111111-1111-4111-8111-111111111111"])
def test_pay_without_a_signed_reference_is_400(client, orkestapay_settings, value):
    response = client.post(reverse("orkestapay:pay"), {"order": value})
    assert response.status_code == 400


def test_pay_with_a_signed_reference_to_an_unknown_order_is_404(client, orkestapay_settings):
    response = client.post(reverse("orkestapay:pay"), {"order": sign_pay_reference(uuid.uuid4())})
    assert response.status_code == 404


def test_full_journey_paid(client, orkestapay_settings, fake_orkestapay):
    order = make_order()
    checkout_url = pay(client, order)["Location"]
    redirect = hosted_page_post(checkout_url, "pay")
    assert redirect.status_code == 303
    completed_url = redirect.headers["Location"]
    query = parse_qs(urlsplit(completed_url).query)
    assert RETURN_PARAM in query  # our signed parameter survived OrkestaPay's appended order_id
    assert query["order_id"][0].startswith("ord_")

    response = client.get(local_path(completed_url))
    assert response.status_code == 200
    assert b'data-testid="orkestapay-paid"' in response.content
    order.refresh_from_db()
    assert order.status == OrderStatus.PAID
    # the status came from the API, not the query string
    assert fake_orkestapay.count_requests("GET", f"/v1/orders/{order.orkestapay_order_id}") == 1


def test_success_url_setting_redirects_paid_buyer(client, settings, orkestapay_settings, fake_orkestapay):
    settings.ORKESTAPAY = {**orkestapay_settings, "SUCCESS_URL": "/thanks/"}
    order = make_order()
    completed_url = hosted_page_post(pay(client, order)["Location"], "pay").headers["Location"]
    response = client.get(local_path(completed_url))
    assert response.status_code == 302
    assert response["Location"] == f"/thanks/?order={order.pk}"


def test_cancel_journey(client, orkestapay_settings, fake_orkestapay):
    order = make_order()
    redirect = hosted_page_post(pay(client, order)["Location"], "cancel")
    assert redirect.status_code == 303
    response = client.get(local_path(redirect.headers["Location"]))
    assert response.status_code == 200
    assert b'data-testid="orkestapay-canceled"' in response.content
    assert b'data-testid="orkestapay-pay-button"' in response.content  # retry offered
    order.refresh_from_db()
    assert order.status == OrderStatus.CANCELED
    assert Checkout.objects.get(order=order).status == CheckoutStatus.CANCELED


def test_cancel_url_setting_redirects(client, settings, orkestapay_settings, fake_orkestapay):
    settings.ORKESTAPAY = {**orkestapay_settings, "CANCEL_URL": "/cart/"}
    order = make_order()
    redirect = hosted_page_post(pay(client, order)["Location"], "cancel")
    response = client.get(local_path(redirect.headers["Location"]))
    assert response["Location"] == f"/cart/?order={order.pk}"


def test_forged_completed_return_for_an_unpaid_order_leaves_it_unpaid(client, orkestapay_settings, fake_orkestapay):
    order = make_order()
    pay(client, order)
    checkout = Checkout.objects.get(order=order)
    # The buyer never paid but visits the (validly signed) completed URL with a made-up order_id.
    forged = "&order_id=ord_00000000000000000000000000000000&payment_id=pay_x"
    response = client.get(local_path(checkout.completed_url) + forged)
    assert response.status_code == 200
    assert b'data-testid="orkestapay-pending"' in response.content
    delay, url = response["Refresh"].split("; url=")
    assert delay == "5"  # then 10 and 30 (tests/test_bounded_work.py)
    assert parse_qs(urlsplit(url).query)["check"] == ["1"]
    order.refresh_from_db()
    assert order.status == OrderStatus.PENDING


def test_canceled_link_used_on_completed_view_is_rejected(client, orkestapay_settings, fake_orkestapay):
    order = make_order()
    pay(client, order)
    checkout = Checkout.objects.get(order=order)
    value = sign_return(order_id=order.pk, checkout_id=checkout.pk, side=CANCELED)
    before = snapshot(order)
    response = client.get(reverse("orkestapay:completed"), {RETURN_PARAM: value})
    assert response.status_code == 400
    assert snapshot(order) == before


@pytest.mark.parametrize(
    "mutate",
    [
        lambda v: v[:-2] + ("AA" if not v.endswith("AA") else "BB"),
        lambda v: "X" + v[1:],
        lambda v: "",
        lambda v: v.split(":")[0],
    ],
    ids=["signature", "payload", "empty", "unsigned"],
)
def test_tampered_link_is_400_and_changes_nothing(client, orkestapay_settings, fake_orkestapay, mutate):
    order = make_order()
    pay(client, order)
    checkout = Checkout.objects.get(order=order)
    fake_orkestapay.pay(checkout.orkestapay_checkout_id)
    value = sign_return(order_id=order.pk, checkout_id=checkout.pk, side=COMPLETED)
    before = snapshot(order)
    api_calls = fake_orkestapay.count_requests()
    response = client.get(reverse("orkestapay:completed"), {RETURN_PARAM: mutate(value)})
    assert response.status_code == 400
    assert b"orkestapay-error" in response.content
    assert snapshot(order) == before
    assert fake_orkestapay.count_requests() == api_calls


def test_expired_link_is_400(client, settings, orkestapay_settings, fake_orkestapay, monkeypatch):

    order = make_order()
    pay(client, order)
    checkout = Checkout.objects.get(order=order)
    real_time = time.time
    monkeypatch.setattr("django.core.signing.time.time", lambda: real_time() + 2 * 86400)
    before = snapshot(order)
    response = client.get(local_path(checkout.completed_url))
    assert response.status_code == 400
    assert "expired" in response.content.decode().lower() or "venci" in response.content.decode().lower()
    assert snapshot(order) == before


def test_link_for_a_checkout_of_another_order_is_400(client, orkestapay_settings, fake_orkestapay):
    first, second = make_order(merchant_order_id="A-1"), make_order(merchant_order_id="B-2")
    pay(client, first)
    pay(client, second)
    checkout_b = Checkout.objects.get(order=second)
    value = sign_return(order_id=first.pk, checkout_id=checkout_b.pk, side=COMPLETED)
    response = client.get(reverse("orkestapay:completed"), {RETURN_PARAM: value})
    assert response.status_code == 400


def test_link_signed_by_another_project_is_400(client, settings, orkestapay_settings, fake_orkestapay):
    order = make_order()
    pay(client, order)
    checkout = Checkout.objects.get(order=order)
    from django.test import override_settings

    with override_settings(SECRET_KEY="another-shop"):
        value = sign_return(order_id=order.pk, checkout_id=checkout.pk, side=COMPLETED)
    response = client.get(reverse("orkestapay:completed"), {RETURN_PARAM: value})
    assert response.status_code == 400


def test_api_down_on_return_shows_retry_page_then_recovers(client, orkestapay_settings, fake_orkestapay):
    order = make_order()
    completed_url = hosted_page_post(pay(client, order)["Location"], "pay").headers["Location"]
    fake_orkestapay.inject_fault("GET", "/v1/orders/*", "status", status=503)
    response = client.get(local_path(completed_url))
    assert response.status_code == 503
    assert response["Retry-After"] == "5"
    body = response.content.decode()
    assert "Traceback" not in body
    assert orkestapay_settings["CLIENT_SECRET"] not in body
    order.refresh_from_db()
    assert order.status == OrderStatus.PENDING
    assert "503" in order.last_error
    return_read_interval_passed(order)
    response = client.get(local_path(completed_url))
    assert response.status_code == 200
    order.refresh_from_db()
    assert order.status == OrderStatus.PAID


def test_pay_when_gateway_fails_shows_clear_page(client, orkestapay_settings, fake_orkestapay):
    order = make_order()
    fake_orkestapay.inject_fault("POST", "/v1/checkouts", "status", status=500)
    response = pay(client, order)
    assert response.status_code == 503
    body = response.content.decode()
    assert "Traceback" not in body
    assert orkestapay_settings["CLIENT_SECRET"] not in body
    order.refresh_from_db()
    assert order.status == OrderStatus.CREATED
    assert pay(client, order).status_code == 302  # retry works


def test_pay_for_a_paid_order_is_409(client, orkestapay_settings, fake_orkestapay):
    order = make_order()
    completed_url = hosted_page_post(pay(client, order)["Location"], "pay").headers["Location"]
    client.get(local_path(completed_url))
    response = pay(client, order)
    assert response.status_code == 409
    assert fake_orkestapay.count_requests("POST", "/v1/checkouts") == 1


def test_return_views_are_get_only(client, orkestapay_settings):
    assert client.post(reverse("orkestapay:completed")).status_code == 405
    assert client.post(reverse("orkestapay:canceled")).status_code == 405


def sqlite_write_locks(count: int = 1) -> int:
    """The statements ``services.locking`` adds on a database without row locks (SQLite): ``count`` UPDATEs that
    change nothing, each taking the write lock before the transaction reads (PostgreSQL's ``SELECT ... FOR UPDATE``
    takes the row's lock by itself)."""
    return 0 if connection.features.has_select_for_update else count


def data_queries(captured: list[dict[str, str]]) -> list[str]:
    """The SQL that touches data (transaction control differs between SQLite and PostgreSQL)."""
    control = ("BEGIN", "COMMIT", "ROLLBACK", "SAVEPOINT", "RELEASE")
    return [q["sql"] for q in captured if not q["sql"].upper().startswith(control)]


def test_query_counts_per_request(client, orkestapay_settings, fake_orkestapay):
    order = make_order()
    with CaptureQueriesContext(connection) as pay_queries:
        checkout_url = pay(client, order)["Location"]
    with CaptureQueriesContext(connection) as reuse_queries:
        assert pay(client, order)["Location"] == checkout_url
    completed_url = hosted_page_post(checkout_url, "pay").headers["Location"]
    with CaptureQueriesContext(connection) as completed_queries:
        client.get(local_path(completed_url))
    # pay: (SQLite: the order's write lock, an UPDATE that changes nothing, see services.locking), the order read
    # and locked, its checkouts, checkout insert, status transition
    assert len(data_queries(pay_queries.captured_queries)) == 4 + sqlite_write_locks()
    reused = data_queries(reuse_queries.captured_queries)
    assert len(reused) == 2 + sqlite_write_locks()  # (SQLite's write lock), the order, its checkouts
    # completed: checkout+order, (SQLite's write lock), lock order, the order's checkouts, its payments, payment
    # insert, checkout update, order update (5 before the ledger)
    assert len(data_queries(completed_queries.captured_queries)) == 7 + sqlite_write_locks()


@pytest.mark.parametrize(("header", "passed_on"), [("12", "12"), (None, None)])
def test_pay_passes_orkestapays_retry_after_on(client, orkestapay_settings, header, passed_on):
    """A checkout refused with 429 and ``Retry-After`` (never retried) answers the buyer 503 with that wait."""
    order = make_order()
    base = orkestapay_settings["BASE_URL"]
    with responses.RequestsMock() as api:
        api.post(f"{base}/v1/oauth/tokens", json={"access_token": "t", "token_type": "Bearer", "expires_in": 1800})
        headers = {"Retry-After": header} if header else {}
        api.post(f"{base}/v1/checkouts", status=429, json={"message": "too many requests"}, headers=headers)
        response = pay(client, order)

    assert response.status_code == 503
    assert response.get("Retry-After") == passed_on
    order.refresh_from_db()
    assert order.status == OrderStatus.CREATED
