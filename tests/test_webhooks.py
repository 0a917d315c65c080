"""The webhook endpoint and event processing, against the fake gateway (the API re-read) over real HTTP."""

from __future__ import annotations

import json
import time
import uuid
from typing import Any

import pytest
from django.core.management import call_command
from django.core.management.base import CommandError
from django.test import Client
from django.urls import reverse

from django_orkestapay import services, signals
from django_orkestapay.models import Checkout, Event, EventStatus, Order, OrderStatus
from django_orkestapay.services import webhooks as webhook_services
from django_orkestapay.webhook_verification import sign_payload
from tests.conftest import hosted_page_post, local_path, make_order, pay_form

pytestmark = pytest.mark.django_db(transaction=True)

SECRET = "whsec_" + "MfKQ9r8GKYqrTwjUPD8ILPZIo2LaLaSw"
OTHER_SECRET = "whsec_" + "dGhpcyBpcyBhbm90aGVyIHNlY3JldCBrZXkh"


@pytest.fixture
def webhook_settings(settings, orkestapay_settings):
    settings.ORKESTAPAY = {**orkestapay_settings, "WEBHOOK_SECRETS": [SECRET]}
    return settings.ORKESTAPAY


@pytest.fixture
def csrf_client() -> Client:
    return Client(enforce_csrf_checks=True)


def payment_event(order: Order, event_type: str = "payment.purchase", **payment: Any) -> dict[str, Any]:
    body = {
        "payment_id": f"pay_{uuid.uuid4().hex}",
        "order_id": order.orkestapay_order_id,
        "merchant_order_id": order.merchant_order_id,
        "status": "COMPLETED",
        "amount": {"captured": float(order.total_amount), "currency": order.currency},
        **payment,
    }
    return {"data": {"payment": body}, "type": "payment", "type_event": event_type, "version": 1}


def deliver(
    client: Client,
    payload: Any,
    *,
    secret: str = SECRET,
    message_id: str | None = None,
    timestamp: int | None = None,
    body: bytes | None = None,
    names: str = "svix",
):
    raw = body if body is not None else json.dumps(payload, separators=(",", ":")).encode()
    message_id = message_id or f"msg_{uuid.uuid4().hex}"
    timestamp = int(time.time()) if timestamp is None else timestamp
    signature = sign_payload(secret, message_id, timestamp, raw)
    headers = {f"{names}-id": message_id, f"{names}-timestamp": str(timestamp), f"{names}-signature": signature}
    return client.post(reverse("orkestapay:webhook"), data=raw, content_type="application/json", headers=headers)


def started_and_paid(fake_orkestapay, *, pay: bool = True) -> Order:
    order = make_order()
    checkout = services.start_checkout(order, build_absolute_uri=lambda p: f"http://testserver{p}")
    if pay:
        fake_orkestapay.pay(checkout.orkestapay_checkout_id)
    order.refresh_from_db()
    return order


class Recorder:
    def __init__(self) -> None:
        self.calls: list[uuid.UUID] = []

    def __call__(self, sender: Any, order: Order, **kwargs: Any) -> None:
        self.calls.append(order.pk)


@pytest.fixture
def paid_signals():
    recorder = Recorder()
    signals.order_paid.connect(recorder, dispatch_uid="test-webhooks")
    yield recorder
    signals.order_paid.disconnect(dispatch_uid="test-webhooks")


def test_valid_webhook_marks_the_order_paid_once(csrf_client, webhook_settings, fake_orkestapay, paid_signals):
    order = started_and_paid(fake_orkestapay)
    response = deliver(csrf_client, payment_event(order))
    assert response.status_code == 200
    assert response.json() == {"status": "processed"}
    order.refresh_from_db()
    assert order.status == OrderStatus.PAID
    event = Event.objects.get()
    assert (event.status, event.verified, event.event_type, event.order_id) == (
        EventStatus.PROCESSED,
        True,
        "payment.purchase",
        order.pk,
    )
    assert paid_signals.calls == [order.pk]


def test_webhook_names_from_standard_webhooks_are_accepted(csrf_client, webhook_settings, fake_orkestapay):
    order = started_and_paid(fake_orkestapay)
    assert deliver(csrf_client, payment_event(order), names="webhook").status_code == 200
    order.refresh_from_db()
    assert order.status == OrderStatus.PAID


def test_replayed_webhook_is_a_noop(csrf_client, webhook_settings, fake_orkestapay, paid_signals):
    order = started_and_paid(fake_orkestapay)
    payload = payment_event(order)
    first = deliver(csrf_client, payload, message_id="msg_same")
    api_calls = fake_orkestapay.count_requests("GET")
    second = deliver(csrf_client, payload, message_id="msg_same")
    assert first.status_code == second.status_code == 200
    assert second.json() == {"status": "duplicate"}
    assert Event.objects.count() == 1
    assert fake_orkestapay.count_requests("GET") == api_calls
    assert paid_signals.calls == [order.pk]


@pytest.mark.parametrize(
    "tamper",
    ["wrong_secret", "altered_body", "stale_timestamp", "future_timestamp", "no_signature"],
)
def test_forged_webhooks_are_rejected_and_stored(csrf_client, webhook_settings, fake_orkestapay, tamper):
    order = started_and_paid(fake_orkestapay)
    payload = payment_event(order)
    raw = json.dumps(payload).encode()
    if tamper == "wrong_secret":
        response = deliver(csrf_client, payload, secret=OTHER_SECRET)
    elif tamper == "altered_body":
        message_id, timestamp = "msg_x", int(time.time())
        signature = sign_payload(SECRET, message_id, timestamp, raw)
        altered = raw.replace(b"COMPLETED", b"COMPLETEd")
        response = csrf_client.post(
            reverse("orkestapay:webhook"),
            data=altered,
            content_type="application/json",
            HTTP_SVIX_ID=message_id,
            HTTP_SVIX_TIMESTAMP=str(timestamp),
            HTTP_SVIX_SIGNATURE=signature,
        )
    elif tamper == "stale_timestamp":
        response = deliver(csrf_client, payload, timestamp=int(time.time()) - 301)
    elif tamper == "future_timestamp":
        response = deliver(csrf_client, payload, timestamp=int(time.time()) + 301)
    else:
        response = csrf_client.post(reverse("orkestapay:webhook"), data=raw, content_type="application/json")
    assert response.status_code == 400
    order.refresh_from_db()
    assert order.status == OrderStatus.PENDING
    event = Event.objects.get()
    assert event.status == EventStatus.REJECTED
    assert not event.verified
    assert event.message_id is None  # a forger cannot occupy a real event's id


def test_rotated_secrets_are_all_accepted(csrf_client, settings, webhook_settings, fake_orkestapay):
    settings.ORKESTAPAY = {**webhook_settings, "WEBHOOK_SECRETS": [OTHER_SECRET, SECRET]}
    order = started_and_paid(fake_orkestapay)
    assert deliver(csrf_client, payment_event(order), secret=SECRET).status_code == 200


def test_malformed_body_with_valid_signature_is_400(csrf_client, webhook_settings, fake_orkestapay):
    response = deliver(csrf_client, None, body=b"{not json")
    assert response.status_code == 400
    assert Event.objects.get().status == EventStatus.REJECTED


def test_an_event_of_an_unknown_type_naming_our_order_is_read(csrf_client, webhook_settings, fake_orkestapay):
    """Whatever its name (the current envelope's event-name key is not publicly shown), an event that names one
    of our orders makes us read that order: the payment lands at once, not at the next sync."""
    order = started_and_paid(fake_orkestapay)
    response = deliver(csrf_client, payment_event(order, event_type="payment.something_new"))
    assert response.json() == {"status": "processed"}
    event = Event.objects.get()
    assert (event.status, event.event_type) == (EventStatus.PROCESSED, "payment.something_new")
    order.refresh_from_db()
    assert order.status == OrderStatus.PAID


def test_an_event_of_an_unknown_type_naming_nothing_of_ours_is_ignored_and_examined_again_after_an_upgrade(
    csrf_client, webhook_settings, fake_orkestapay, monkeypatch
):
    order = started_and_paid(fake_orkestapay)
    payload = {"type": "payment.something_new", "data": {"a_new_shape": {"order_id": order.orkestapay_order_id}}}
    assert deliver(csrf_client, payload).json() == {"status": "ignored"}
    event = Event.objects.get()
    assert (event.status, event.event_type, event.error) == (
        EventStatus.IGNORED,
        "payment.something_new",
        "unhandled event type 'payment.something_new'",
    )
    assert services.reprocess_stale_events().succeeded == 0  # examined by this version already

    # a newer version (one that reads this envelope) examines the ignored events again, once
    monkeypatch.setattr("django_orkestapay.services.webhooks.__version__", "99.0")
    monkeypatch.setattr("django_orkestapay.services.reprocessing.__version__", "99.0")
    monkeypatch.setattr(
        "django_orkestapay.services.webhooks.parse_webhook_payload",
        lambda payload: webhook_services.WebhookPayload(
            event_type=payload["type"],
            order_id=payload["data"]["a_new_shape"]["order_id"],
            merchant_order_id=None,
            payment_id=None,
        ),
    )
    assert services.reprocess_stale_events().changed == 1
    event.refresh_from_db()
    assert (event.status, event.examined_with) == (EventStatus.PROCESSED, "99.0")
    assert Order.objects.get(pk=order.pk).status == OrderStatus.PAID
    assert services.reprocess_stale_events().succeeded == 0


def test_the_event_name_is_read_from_type_when_it_names_an_event():
    parse = webhook_services.parse_webhook_payload
    assert parse({"type": "payment.purchase", "data": {}}).event_type == "payment.purchase"  # Svix's convention
    assert parse({"type": "payment", "type_event": "payment.refund", "data": {}}).event_type == "payment.refund"
    assert parse({"type": "payment", "data": {}}).event_type == ""  # November 2024: "type" is only "payment"


def test_an_event_naming_only_a_payment_of_ours_reads_that_payments_attempt(
    csrf_client, webhook_settings, fake_orkestapay
):
    order = started_and_paid(fake_orkestapay)
    services.sync_order(order)
    payment = order.payments.get()
    fake_orkestapay.refund_from_portal(payment.orkestapay_payment_id, 100)
    payload = {"type": "payment.refund", "data": {"payment": {"payment_id": payment.orkestapay_payment_id}}}
    assert deliver(csrf_client, payload).json() == {"status": "processed"}
    assert Event.objects.get().order_id == order.pk


def test_event_for_an_unknown_order_is_ignored(csrf_client, webhook_settings, fake_orkestapay):
    payload = {"data": {"payment": {"order_id": "ord_" + "0" * 32}}, "type_event": "payment.purchase"}
    assert deliver(csrf_client, payload).json() == {"status": "ignored"}


def test_webhook_says_paid_but_api_does_not(csrf_client, webhook_settings, fake_orkestapay):
    order = started_and_paid(fake_orkestapay, pay=False)
    response = deliver(csrf_client, payment_event(order))  # a forged claim would need the secret; the API decides
    assert response.status_code == 200
    order.refresh_from_db()
    assert order.status == OrderStatus.PENDING


@pytest.mark.parametrize("version", ["v2026", "v2024-11", "v2024-07"])
def test_fake_gateway_webhooks_in_every_envelope_are_applied(
    live_server, settings, webhook_settings, fake_orkestapay, version
):
    fake_orkestapay.webhook_payload_version = version
    fake_orkestapay.add_webhook_endpoint(f"{live_server.url}{reverse('orkestapay:webhook')}", secret=SECRET)
    order = started_and_paid(fake_orkestapay)
    assert fake_orkestapay.wait_for_webhooks(timeout=10)
    order.refresh_from_db()
    assert order.status == OrderStatus.PAID
    assert Event.objects.filter(status=EventStatus.PROCESSED).count() == 1


def test_webhook_before_the_return(client, csrf_client, webhook_settings, fake_orkestapay, paid_signals):
    order = make_order()
    checkout_url = client.post(reverse("orkestapay:pay"), pay_form(order))["Location"]
    completed_url = hosted_page_post(checkout_url, "pay").headers["Location"]
    order.refresh_from_db()
    assert deliver(csrf_client, payment_event(order)).status_code == 200
    response = client.get(local_path(completed_url))
    assert b'data-testid="orkestapay-paid"' in response.content
    assert paid_signals.calls == [order.pk]


def test_return_with_no_webhook_still_pays(client, webhook_settings, fake_orkestapay, paid_signals):
    order = make_order()
    checkout_url = client.post(reverse("orkestapay:pay"), pay_form(order))["Location"]
    completed_url = hosted_page_post(checkout_url, "pay").headers["Location"]
    client.get(local_path(completed_url))
    order.refresh_from_db()
    assert order.status == OrderStatus.PAID
    assert Event.objects.count() == 0
    assert paid_signals.calls == [order.pk]


def test_late_cancel_return_after_webhook_pay(client, csrf_client, webhook_settings, fake_orkestapay):
    order = make_order()
    client.post(reverse("orkestapay:pay"), pay_form(order))
    checkout = Checkout.objects.get(order=order)
    fake_orkestapay.pay(checkout.orkestapay_checkout_id)
    order.refresh_from_db()
    deliver(csrf_client, payment_event(order))
    response = client.get(local_path(checkout.canceled_url))
    assert response.status_code == 200
    order.refresh_from_db()
    assert order.status == OrderStatus.PAID


def test_processing_failure_then_reprocess(csrf_client, webhook_settings, fake_orkestapay, paid_signals):
    order = started_and_paid(fake_orkestapay)
    fake_orkestapay.inject_fault("GET", "/v1/orders/*", "status", status=503)
    response = deliver(csrf_client, payment_event(order), message_id="msg_retry")
    assert response.status_code == 500
    event = Event.objects.get()
    assert event.status == EventStatus.FAILED
    assert event.event_type == "payment.purchase"
    assert event.orkestapay_order_id == order.orkestapay_order_id
    assert "503" in event.error
    order.refresh_from_db()
    assert order.status == OrderStatus.PENDING

    call_command("orkestapay_reprocess_events")
    event.refresh_from_db()
    assert event.status == EventStatus.PROCESSED
    order.refresh_from_db()
    assert order.status == OrderStatus.PAID
    # OrkestaPay's own retry of the same message is now a duplicate
    assert deliver(csrf_client, payment_event(order), message_id="msg_retry").json() == {"status": "duplicate"}
    assert paid_signals.calls == [order.pk]


def test_reprocess_command_fails_loudly(webhook_settings, fake_orkestapay, csrf_client):
    order = started_and_paid(fake_orkestapay)
    # the order and its payments are read at once: both refused, on the delivery and again on the command's retry
    fake_orkestapay.inject_fault("GET", "/v1/orders/*", "status", status=503, times=4)
    deliver(csrf_client, payment_event(order))
    with pytest.raises(CommandError):
        call_command("orkestapay_reprocess_events")


def test_webhook_without_configured_secret_is_500(csrf_client, settings, orkestapay_settings, fake_orkestapay):
    order = started_and_paid(fake_orkestapay)
    assert deliver(csrf_client, payment_event(order)).status_code == 500


def test_webhook_is_post_only(csrf_client, webhook_settings):
    assert csrf_client.get(reverse("orkestapay:webhook")).status_code == 405


def test_stored_headers_drop_cookies_and_credentials(csrf_client, webhook_settings, fake_orkestapay):
    order = started_and_paid(fake_orkestapay)
    raw = json.dumps(payment_event(order)).encode()
    timestamp = int(time.time())
    csrf_client.post(
        reverse("orkestapay:webhook"),
        data=raw,
        content_type="application/json",
        HTTP_SVIX_ID="msg_h",
        HTTP_SVIX_TIMESTAMP=str(timestamp),
        HTTP_SVIX_SIGNATURE=sign_payload(SECRET, "msg_h", timestamp, raw),
        HTTP_AUTHORIZATION="Bearer secret-token",
        HTTP_COOKIE="sessionid=abc",
    )
    headers = Event.objects.get().headers
    assert "authorization" not in headers
    assert "cookie" not in headers
    assert headers["svix-id"] == "msg_h"


@pytest.mark.parametrize("length", ["abc", "-"])
def test_a_garbled_content_length_is_400_not_a_crash(webhook_settings, length):
    response = Client().generic(
        "POST", reverse("orkestapay:webhook"), b"{}", content_type="application/json", CONTENT_LENGTH=length
    )
    assert response.status_code == 400
    assert Event.objects.count() == 0


def test_a_bare_string_secret_is_a_clear_misconfiguration(settings, orkestapay_settings, caplog):
    settings.ORKESTAPAY = {**orkestapay_settings, "WEBHOOK_SECRETS": "whsec_MfKQ9r8GKYqrTwjUPD8ILPZIo2LaLaSw"}
    response = Client().post(reverse("orkestapay:webhook"), b"{}", content_type="application/json")
    assert response.status_code == 500
    assert response.json() == {"error": "webhooks are misconfigured"}
    assert "must be a list" in caplog.text
    assert "MfKQ9r8" not in caplog.text
    assert Event.objects.count() == 0
