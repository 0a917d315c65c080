"""The fault catalogue: every way OrkestaPay or the network can fail, one readable case each, through the real views.

Each case drives Django's test client against the real fake gateway (``fake_orkestapay``) with a fault injected, and
asserts the whole contract:

* the buyer gets the app's clear page (``django_orkestapay/error.html``), never a traceback, a secret, an access
  token or an ``Authorization`` value, and neither does the log (``caplog``, DEBUG);
* the database says exactly what happened and nothing more: the order keeps its status, ``order.last_error`` (shown
  in the admin) names the failure, a failed checkout attempt is one ``FAILED`` row with its error, and every other
  row and field is unchanged (:func:`db_snapshot`);
* nothing is created twice (the fake's request log and its own checkouts), and a retry once the fault clears ends in
  exactly one open checkout (or a paid order).

Related tests elsewhere: tests/test_services.py (the same checkout faults at the service level),
tests/test_client.py (the HTTP client's error mapping with mocked HTTP), tests/test_views.py (the first 500 and 503
cases, kept there). Hostile input is in tests/test_hostile_input.py, redirects in tests/test_open_redirect.py.
"""

from __future__ import annotations

import json
import logging
import socket
import time
import uuid
from collections.abc import Callable, Iterable, Mapping
from dataclasses import dataclass
from typing import Any

import pytest
from django.apps import apps
from django.test import Client
from django.urls import reverse
from django.utils.html import escape

from django_orkestapay.models import Checkout, CheckoutStatus, Event, EventStatus, Order, OrderStatus, ReviewCode
from django_orkestapay.testing import FakeOrkestaPay
from django_orkestapay.webhook_verification import sign_payload
from tests.conftest import (
    assert_leads_to_hosted_page,
    hosted_page_post,
    local_path,
    make_order,
    pay_form,
    return_read_interval_passed,
)

pytestmark = pytest.mark.django_db(transaction=True)

ERROR_TEMPLATE = "django_orkestapay/error.html"
WEBHOOK_SECRET = "whsec_" + "dGVzdHMtZmF1bHQtY2F0YWxvZ3VlLXNlY3JldCE="

Snapshot = dict[str, list[dict[str, Any]]]


# ---------------------------------------------------------------------------------------------------------------
# Helpers shared by the catalogue files (tests/test_hostile_input.py and tests/test_open_redirect.py import them)
# ---------------------------------------------------------------------------------------------------------------


def db_snapshot() -> Snapshot:
    """Every row of every django_orkestapay model (Order, Checkout, Event, ...) with all field values, by pk."""
    config = apps.get_app_config("orkestapay")
    return {model.__name__: list(model._default_manager.order_by("pk").values()) for model in config.get_models()}


def without(snapshot: Snapshot, ignored: Mapping[str, Iterable[str]]) -> Snapshot:
    """``snapshot`` with the named fields of the named models left out (what the contract says may change)."""
    return {
        model: [{key: value for key, value in row.items() if key not in set(ignored.get(model, ()))} for row in rows]
        for model, rows in snapshot.items()
    }


def assert_db_unchanged(
    before: Snapshot, *, allowed: Mapping[str, Iterable[str]] | None = None, added: Iterable[str] = ()
) -> None:
    """The database holds the same rows with the same values as ``before``, except the ``allowed`` fields and the
    new rows of the ``added`` models (which the caller checks itself, see :func:`new_rows`)."""
    after = db_snapshot()
    for model in added:
        known = {row["id"] for row in before[model]}
        after[model] = [row for row in after[model] if row["id"] in known]
    ignored = allowed or {}
    assert without(after, ignored) == without(before, ignored)


def new_rows(before: Snapshot, model: str) -> list[dict[str, Any]]:
    """Rows of ``model`` that were not in ``before``."""
    known = {row["id"] for row in before[model]}
    return [row for row in db_snapshot()[model] if row["id"] not in known]


def assert_clean_page(response: Any, caplog: pytest.LogCaptureFixture, fake: FakeOrkestaPay, *hidden: str) -> None:
    """The buyer's page is the app's error page, and neither it nor the log shows a traceback or a credential."""
    assert ERROR_TEMPLATE in [template.name for template in response.templates]
    body = response.content.decode("utf-8", "replace")
    assert 'data-testid="orkestapay-error"' in body
    assert "Traceback" not in body
    logs = caplog.text
    credentials = [fake.client_secret, *fake.state.tokens, *hidden]
    for text in (body, logs):
        assert "Bearer" not in text
        for secret in credentials:
            assert secret not in text


def dead_base_url() -> str:
    """A loopback URL nothing listens on (connection refused)."""
    with socket.socket() as sock:
        sock.bind(("127.0.0.1", 0))
        port = sock.getsockname()[1]
    return f"http://127.0.0.1:{port}"


def pay(client: Client, order: Order) -> Any:
    """Press the pay button (POST with the order's id)."""
    return client.post(reverse("orkestapay:pay"), pay_form(order))


def remote_checkout_id(order: Order) -> str:
    """The OrkestaPay id of ``order``'s (only) checkout, to drive the fake's hosted page."""
    checkout_id = Checkout.objects.get(order=order).orkestapay_checkout_id
    assert checkout_id
    return checkout_id


def admin_shows(admin_client: Client, order: Order, text: str) -> bool:
    """Whether the order's admin change page shows ``text``."""
    page = admin_client.get(reverse("admin:orkestapay_order_change", args=[order.pk]))
    assert page.status_code == 200
    return escape(text) in page.content.decode()


@pytest.fixture
def caplog_debug(caplog: pytest.LogCaptureFixture) -> pytest.LogCaptureFixture:
    """Capture every django_orkestapay record, DEBUG included."""
    caplog.set_level(logging.DEBUG, logger="django_orkestapay")
    return caplog


# ---------------------------------------------------------------------------------------------------------------
# Faults while starting a checkout (the pay view, POST /v1/checkouts and the token it needs)
# ---------------------------------------------------------------------------------------------------------------

Arrange = Callable[[FakeOrkestaPay, dict[str, Any]], dict[str, Any]]


def fault(method: str, path: str, kind: str, **options: Any) -> Arrange:
    """Arrange one injected fault on the fake, settings unchanged."""

    def arrange(fake: FakeOrkestaPay, base: dict[str, Any]) -> dict[str, Any]:
        fake.inject_fault(method, path, kind, **options)
        return base

    return arrange


def gateway_unreachable(fake: FakeOrkestaPay, base: dict[str, Any]) -> dict[str, Any]:
    return {**base, "BASE_URL": dead_base_url()}


def read_timeout(path: str, method: str) -> Arrange:
    """The gateway accepts the request, works for longer than READ_TIMEOUT, then hangs up."""

    def arrange(fake: FakeOrkestaPay, base: dict[str, Any]) -> dict[str, Any]:
        fake.inject_fault(method, path, "timeout", delay=1.5)
        return {**base, "READ_TIMEOUT": 0.3}

    return arrange


def wrong_secret(fake: FakeOrkestaPay, base: dict[str, Any]) -> dict[str, Any]:
    return {**base, "CLIENT_SECRET": "wrong-secret-" + uuid.uuid4().hex}


@dataclass(frozen=True)
class PayFault:
    """One way POST /v1/checkouts (or the token before it) fails, and what it must leave behind."""

    arrange: Arrange
    error: str  # a fragment of order.last_error and of the FAILED checkout's error
    checkout_posts: int  # POST /v1/checkouts requests the failing click causes
    created_remotely: int  # checkouts the fake really created (an answer lost after the work was done)


PAY_FAULTS = {
    "connection-refused": PayFault(gateway_unreachable, "Could not reach OrkestaPay", 0, 0),
    "connection-reset": PayFault(
        fault("POST", "/v1/checkouts", "connection_reset"), "Could not reach OrkestaPay", 1, 0
    ),
    "read-timeout-after-the-work-was-done": PayFault(
        read_timeout("/v1/checkouts", "POST"), "did not answer in time", 1, 1
    ),
    "http-500": PayFault(fault("POST", "/v1/checkouts", "status", status=500), "HTTP 500", 1, 0),
    "http-502": PayFault(fault("POST", "/v1/checkouts", "status", status=502), "HTTP 502", 1, 0),
    "http-503": PayFault(fault("POST", "/v1/checkouts", "status", status=503), "HTTP 503", 1, 0),
    "http-429": PayFault(fault("POST", "/v1/checkouts", "status", status=429), "HTTP 429", 1, 0),
    "http-400-validation-error": PayFault(
        fault("POST", "/v1/checkouts", "status", status=400), "body: Injected validation error", 1, 0
    ),
    "http-401-even-with-a-fresh-token": PayFault(
        fault("POST", "/v1/checkouts", "unauthorized", times=2), "HTTP 401", 2, 0
    ),
    "token-refused-bad-credentials": PayFault(wrong_secret, "HTTP 401", 0, 0),
    "token-endpoint-503": PayFault(fault("POST", "/v1/oauth/tokens", "status", status=503), "HTTP 503", 0, 0),
    "malformed-json": PayFault(fault("POST", "/v1/checkouts", "malformed_json"), "not valid JSON", 1, 1),
    "truncated-json": PayFault(fault("POST", "/v1/checkouts", "truncated_json"), "not valid JSON", 1, 1),
    "redirect-to-an-unexpected-host": PayFault(
        fault("POST", "/v1/checkouts", "redirect_host", redirect_host="evil.example"), "is not trusted", 1, 1
    ),
    "redirect-url-python-cannot-parse": PayFault(
        fault("POST", "/v1/checkouts", "redirect_host", redirect_host="[evil.example"), "not a valid URL", 1, 1
    ),
}


@pytest.mark.parametrize("case", list(PAY_FAULTS.values()), ids=list(PAY_FAULTS))
def test_checkout_fault_shows_a_clear_page_records_it_and_a_retry_works(
    case: PayFault,
    client: Client,
    admin_client: Client,
    settings: Any,
    orkestapay_settings: dict[str, Any],
    fake_orkestapay: FakeOrkestaPay,
    caplog_debug: pytest.LogCaptureFixture,
) -> None:
    order = make_order()
    base = dict(orkestapay_settings)
    settings.ORKESTAPAY = case.arrange(fake_orkestapay, base)
    before = db_snapshot()

    response = pay(client, order)

    assert response.status_code == 503
    assert not response.has_header("Location")
    assert_clean_page(response, caplog_debug, fake_orkestapay, settings.ORKESTAPAY["CLIENT_SECRET"])
    assert 'data-testid="orkestapay-pay-button"' in response.content.decode()  # "try again" is offered
    # What was recorded: one FAILED attempt with its error, and the order's last_error. Nothing else changed.
    failed = new_rows(before, "Checkout")
    assert [(row["status"], row["orkestapay_checkout_id"], row["redirect_url"]) for row in failed] == [
        (CheckoutStatus.FAILED, None, "")
    ]
    assert case.error in failed[0]["error"]
    assert_db_unchanged(before, allowed={"Order": {"last_error", "updated_at"}}, added=["Checkout"])
    order.refresh_from_db()
    assert order.status == OrderStatus.CREATED
    assert case.error in order.last_error
    assert admin_shows(admin_client, order, order.last_error)
    errors = [r for r in caplog_debug.records if r.levelno >= logging.ERROR and r.name == "django_orkestapay.services"]
    assert any(order.merchant_order_id in r.getMessage() and case.error in r.getMessage() for r in errors)
    assert order.customer_email not in caplog_debug.text  # no buyer PII in the log
    # Nothing created twice.
    assert fake_orkestapay.count_requests("POST", "/v1/checkouts") == case.checkout_posts
    assert len(fake_orkestapay.checkouts) == case.created_remotely

    # The fault clears; the buyer presses "try again": exactly one more checkout, and the order is pending.
    settings.ORKESTAPAY = base
    retried = pay(client, order)
    assert retried.status_code == 302
    open_checkout = Checkout.objects.get(order=order, status=CheckoutStatus.OPEN)
    assert_leads_to_hosted_page(retried["Location"], open_checkout, fake_orkestapay)
    assert Checkout.objects.filter(order=order).count() == 2
    order.refresh_from_db()
    assert (order.status, order.last_error) == (OrderStatus.PENDING, "")
    assert fake_orkestapay.count_requests("POST", "/v1/checkouts") == case.checkout_posts + 1
    assert len(fake_orkestapay.checkouts) == case.created_remotely + 1
    # A third click (a double click, a reload) reuses the open checkout instead of creating another.
    assert pay(client, order)["Location"] == open_checkout.redirect_url
    assert fake_orkestapay.count_requests("POST", "/v1/checkouts") == case.checkout_posts + 1


def test_expired_token_is_replaced_once_and_the_buyer_never_notices(
    client: Client, orkestapay_settings: dict[str, Any], fake_orkestapay: FakeOrkestaPay
) -> None:
    first, second = make_order(), make_order()
    assert pay(client, first).status_code == 302  # a token is now cached
    fake_orkestapay.expire_tokens()  # OrkestaPay answers 401 to it from now on

    response = pay(client, second)

    assert response.status_code == 302
    assert Checkout.objects.get(order=second).status == CheckoutStatus.OPEN
    assert fake_orkestapay.count_requests("POST", "/v1/oauth/tokens") == 2  # one refresh
    assert fake_orkestapay.count_requests("POST", "/v1/checkouts") == 3  # first, the refused one, the resent one
    assert len(fake_orkestapay.checkouts) == 2  # the refused request created nothing
    second.refresh_from_db()
    assert (second.status, second.last_error) == (OrderStatus.PENDING, "")


# ---------------------------------------------------------------------------------------------------------------
# Faults while confirming a return (GET /v1/orders/{id} from the completed view)
# ---------------------------------------------------------------------------------------------------------------


@dataclass(frozen=True)
class ConfirmFault:
    """One way GET /v1/orders/{id} fails while the buyer comes back, and the fragment it leaves in last_error.
    ``unusable``: an answer we cannot use (no outage): asking again at once would not help, so nobody is made to
    retry it at once (no 5xx); the order is flagged for a person instead."""

    arrange: Arrange
    error: str
    unusable: bool = False


#: The order's own read (not its payments list, read at the same time): the fault is the order's, deterministically.
ORDER_READ = "re:/v1/orders/[^/]+"
CONFIRM_FAULTS = {
    "connection-refused": ConfirmFault(gateway_unreachable, "Could not reach OrkestaPay"),
    "connection-reset": ConfirmFault(fault("GET", ORDER_READ, "connection_reset"), "Could not reach OrkestaPay"),
    "read-timeout": ConfirmFault(read_timeout(ORDER_READ, "GET"), "did not answer in time"),
    "http-500": ConfirmFault(fault("GET", ORDER_READ, "status", status=500), "HTTP 500"),
    "http-502": ConfirmFault(fault("GET", ORDER_READ, "status", status=502), "HTTP 502"),
    "http-503": ConfirmFault(fault("GET", ORDER_READ, "status", status=503), "HTTP 503"),
    # refused with the old token and with the new one
    "http-401-even-with-a-fresh-token": ConfirmFault(fault("GET", ORDER_READ, "unauthorized", times=2), "HTTP 401"),
    "http-404-order-unknown-to-orkestapay": ConfirmFault(
        fault("GET", ORDER_READ, "status", status=404), "HTTP 404", unusable=True
    ),
    "malformed-json": ConfirmFault(fault("GET", ORDER_READ, "malformed_json"), "not valid JSON", unusable=True),
    "truncated-json": ConfirmFault(fault("GET", ORDER_READ, "truncated_json"), "not valid JSON", unusable=True),
}
REVIEW_FIELDS = {"needs_review", "review_code", "review_reason"}


@pytest.mark.parametrize("case", list(CONFIRM_FAULTS.values()), ids=list(CONFIRM_FAULTS))
def test_confirmation_fault_shows_a_retry_page_keeps_the_order_and_a_reload_pays(
    case: ConfirmFault,
    client: Client,
    admin_client: Client,
    settings: Any,
    orkestapay_settings: dict[str, Any],
    fake_orkestapay: FakeOrkestaPay,
    caplog_debug: pytest.LogCaptureFixture,
) -> None:
    order = make_order()
    completed_url = hosted_page_post(pay(client, order)["Location"], "pay").headers["Location"]
    base = dict(orkestapay_settings)
    settings.ORKESTAPAY = case.arrange(fake_orkestapay, base)
    before = db_snapshot()

    response = client.get(local_path(completed_url))

    assert response.status_code == (200 if case.unusable else 503)
    # the page tries again by itself, backing off (tests/test_bounded_work.py); Retry-After only where a retry helps
    assert response.get("Retry-After") == (None if case.unusable else "5")
    assert response["Refresh"].startswith("5; url=/orkestapay/")
    assert_clean_page(response, caplog_debug, fake_orkestapay, settings.ORKESTAPAY["CLIENT_SECRET"])
    recorded = {"last_error", "updated_at"} | (REVIEW_FIELDS if case.unusable else set())
    assert_db_unchanged(before, allowed={"Order": recorded})  # only the error (and the flag) is recorded
    order.refresh_from_db()
    assert order.status == OrderStatus.PENDING
    assert (order.needs_review, order.review_code) == (
        (True, ReviewCode.MALFORMED_ANSWER) if case.unusable else (False, "")
    )
    assert "confirming status" in order.last_error
    assert case.error in order.last_error
    assert admin_shows(admin_client, order, order.last_error)
    logged = [r.getMessage() for r in caplog_debug.records if r.levelno >= logging.ERROR]
    assert any("status could not be confirmed" in line and case.error in line for line in logged)
    assert order.customer_email not in caplog_debug.text

    settings.ORKESTAPAY = base
    return_read_interval_passed(order)  # within RETURN_SYNC_INTERVAL the reload would answer from the database
    reloaded = client.get(local_path(completed_url))
    assert reloaded.status_code == 200
    assert 'data-testid="orkestapay-paid"' in reloaded.content.decode()
    order.refresh_from_db()
    assert order.status == OrderStatus.PAID
    assert Checkout.objects.get(order=order).status == CheckoutStatus.COMPLETED
    assert fake_orkestapay.count_requests("POST", "/v1/checkouts") == 1


def test_transient_503_on_a_safe_read_is_retried_without_the_buyer_noticing(
    client: Client, settings: Any, orkestapay_settings: dict[str, Any], fake_orkestapay: FakeOrkestaPay
) -> None:
    settings.ORKESTAPAY = {**orkestapay_settings, "MAX_RETRIES": 2}
    order = make_order()
    completed_url = hosted_page_post(pay(client, order)["Location"], "pay").headers["Location"]
    fake_orkestapay.inject_fault("GET", ORDER_READ, "status", status=503)

    response = client.get(local_path(completed_url))

    assert response.status_code == 200
    order.refresh_from_db()
    assert (order.status, order.last_error) == (OrderStatus.PAID, "")
    assert fake_orkestapay.count_requests("GET", f"/v1/orders/{order.orkestapay_order_id}") == 2


def test_checkout_creation_is_never_retried_automatically(
    client: Client, settings: Any, orkestapay_settings: dict[str, Any], fake_orkestapay: FakeOrkestaPay
) -> None:
    """Even with retries on, a failed POST /v1/checkouts is not repeated: a repeat could create a second order."""
    settings.ORKESTAPAY = {**orkestapay_settings, "MAX_RETRIES": 3}
    order = make_order()
    fake_orkestapay.inject_fault("POST", "/v1/checkouts", "status", status=503)
    assert pay(client, order).status_code == 503
    assert fake_orkestapay.count_requests("POST", "/v1/checkouts") == 1
    assert len(fake_orkestapay.checkouts) == 0


# ---------------------------------------------------------------------------------------------------------------
# Faults while processing a webhook (the re-read of the order fails)
# ---------------------------------------------------------------------------------------------------------------


def post_webhook(client: Client, body: bytes, *, message_id: str, secret: str = WEBHOOK_SECRET) -> Any:
    """Deliver ``body`` to the webhook endpoint, signed with ``secret`` as Svix does."""
    timestamp = int(time.time())
    headers = {
        "svix-id": message_id,
        "svix-timestamp": str(timestamp),
        "svix-signature": sign_payload(secret, message_id, timestamp, body),
    }
    return client.post(reverse("orkestapay:webhook"), data=body, content_type="application/json", headers=headers)


def purchase_event_body(order: Order) -> bytes:
    """A v2026 ``payment.purchase`` envelope naming ``order``'s OrkestaPay order."""
    payment = {
        "payment_id": f"pay_{uuid.uuid4().hex}",
        "order_id": order.orkestapay_order_id,
        "merchant_order_id": order.merchant_order_id,
        "status": "COMPLETED",
    }
    envelope = {"data": {"payment": payment}, "type": "payment", "type_event": "payment.purchase", "version": 1}
    return json.dumps(envelope, separators=(",", ":")).encode()


WEBHOOK_FAULTS = {
    "connection-refused": ConfirmFault(gateway_unreachable, "Could not reach OrkestaPay"),
    "read-timeout": ConfirmFault(read_timeout(ORDER_READ, "GET"), "did not answer in time"),
    "http-503": ConfirmFault(fault("GET", ORDER_READ, "status", status=503), "HTTP 503"),
    "malformed-json": ConfirmFault(fault("GET", ORDER_READ, "malformed_json"), "not valid JSON", unusable=True),
}


@pytest.mark.parametrize("case", list(WEBHOOK_FAULTS.values()), ids=list(WEBHOOK_FAULTS))
def test_webhook_processing_fault_is_stored_failed_and_the_redelivery_pays_once(
    case: ConfirmFault,
    client: Client,
    settings: Any,
    orkestapay_settings: dict[str, Any],
    fake_orkestapay: FakeOrkestaPay,
    caplog_debug: pytest.LogCaptureFixture,
) -> None:
    base = {**orkestapay_settings, "WEBHOOK_SECRETS": [WEBHOOK_SECRET]}
    settings.ORKESTAPAY = base
    order = make_order()
    pay(client, order)
    fake_orkestapay.pay(remote_checkout_id(order))
    order.refresh_from_db()
    body = purchase_event_body(order)
    settings.ORKESTAPAY = case.arrange(fake_orkestapay, base)
    before = db_snapshot()

    response = post_webhook(client, body, message_id="msg_fault_catalogue")

    if case.unusable:  # acknowledged: OrkestaPay's retries would get the same answer; the reprocess sweep retries
        assert (response.status_code, response.json()) == (200, {"status": "deferred"})
        recorded = {"Order": {"last_error", "updated_at"} | REVIEW_FIELDS}
        assert_db_unchanged(before, added=["Event"], allowed=recorded)  # the order only flagged
    else:
        assert response.status_code == 500  # OrkestaPay retries on 5xx
        assert response.json() == {"error": "processing failed; retry later"}
        assert_db_unchanged(before, added=["Event"])  # orders and checkouts untouched
    (event,) = new_rows(before, "Event")
    assert (event["status"], event["verified"], event["message_id"]) == (
        EventStatus.FAILED,
        True,
        "msg_fault_catalogue",
    )
    assert case.error in event["error"]  # what the admin's event list shows
    assert event["orkestapay_order_id"] == order.orkestapay_order_id
    assert WEBHOOK_SECRET not in caplog_debug.text
    assert "Bearer" not in caplog_debug.text

    settings.ORKESTAPAY = base
    redelivered = post_webhook(client, body, message_id="msg_fault_catalogue")  # OrkestaPay's retry, same id
    assert redelivered.json() == {"status": "processed"}
    order.refresh_from_db()
    assert order.status == OrderStatus.PAID
    assert post_webhook(client, body, message_id="msg_fault_catalogue").json() == {"status": "duplicate"}
    assert Event.objects.count() == 1
    assert Event.objects.get().status == EventStatus.PROCESSED
