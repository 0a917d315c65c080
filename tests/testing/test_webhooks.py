"""Outgoing webhooks: signatures (checked with svix and standardwebhooks), payloads, events, modes, retries."""

from __future__ import annotations

import base64
import json
import re
import time
from typing import Any
from urllib.parse import parse_qs, urlsplit

import pytest
import standardwebhooks
from svix.webhooks import Webhook, WebhookVerificationError

from django_orkestapay.testing import FakeOrkestaPay, sign

from .helpers import ApiClient, Delivery, WebhookReceiver, session

MSG_ID = re.compile(r"^msg_[0-9a-f]{32}$")


def _verify_both(secret: str, delivery: Delivery) -> None:
    """Verify one delivery with two independent libraries."""
    Webhook(secret).verify(delivery.body, delivery.headers)
    standard_headers = {
        "webhook-id": delivery.headers["svix-id"],
        "webhook-timestamp": delivery.headers["svix-timestamp"],
        "webhook-signature": delivery.headers["svix-signature"],
    }
    standardwebhooks.Webhook(secret).verify(delivery.body, standard_headers)


def _pay(fake: FakeOrkestaPay, api: ApiClient) -> tuple[dict[str, Any], str]:
    checkout = api.create_checkout()
    url = fake.pay(checkout["checkout_id"])
    return checkout, parse_qs(urlsplit(url).query)["payment_id"][0]


def test_purchase_webhook_is_signed_and_verifies(
    fake: FakeOrkestaPay, api: ApiClient, receiver: WebhookReceiver
) -> None:
    secret = fake.add_webhook_endpoint(receiver.url)
    checkout, payment_id = _pay(fake, api)

    [delivery] = receiver.wait_for(1)

    assert secret.startswith("whsec_")
    assert len(base64.b64decode(secret[6:])) == 24
    _verify_both(secret, delivery)
    headers = delivery.headers
    assert MSG_ID.match(headers["svix-id"])
    assert abs(int(headers["svix-timestamp"]) - time.time()) < 30
    assert headers["content-type"] == "application/json"
    assert headers["svix-signature"] == sign(secret, headers["svix-id"], int(headers["svix-timestamp"]), delivery.body)
    assert b", " not in delivery.body
    assert b'": ' not in delivery.body
    payload = json.loads(delivery.body)
    assert payload["type"] == "payment"
    assert payload["type_event"] == "payment.purchase"
    assert payload["version"] == 1
    payment = payload["data"]["payment"]
    assert payment["payment_id"] == payment_id
    assert payment["order_id"] == checkout["order"]["order_id"]
    assert payment["merchant_order_id"] == "1366656595193"
    assert payment["status"] == "COMPLETED"
    assert (payment["amount"]["authorized"], payment["amount"]["currency"]) == (990, "MXN")
    assert payment["payment_source"]["card"]["last_four"] == "4242"
    assert payment["transactions"][0]["transaction_id"].startswith("ctx_")
    assert re.match(r"^\d{13}$", payment["created_at"])
    assert re.match(r"^\d{13}$", payment["updated_at"])


def test_a_wrong_secret_does_not_verify(fake: FakeOrkestaPay, api: ApiClient, receiver: WebhookReceiver) -> None:
    fake.add_webhook_endpoint(receiver.url)
    _pay(fake, api)
    [delivery] = receiver.wait_for(1)

    with pytest.raises(WebhookVerificationError):
        Webhook("whsec_" + base64.b64encode(b"x" * 24).decode()).verify(delivery.body, delivery.headers)


def test_given_secret_is_used(fake: FakeOrkestaPay, api: ApiClient, receiver: WebhookReceiver) -> None:
    secret = "whsec_" + base64.b64encode(b"0123456789abcdef01234567").decode()

    assert fake.add_webhook_endpoint(receiver.url, secret) == secret
    _pay(fake, api)

    _verify_both(secret, receiver.wait_for(1)[0])


@pytest.mark.parametrize("version", ["v2024-11", "v2024-07", "svix"])
def test_older_payload_versions(make_fake: Any, receiver: WebhookReceiver, version: str) -> None:
    fake = make_fake(webhook_payload_version=version)
    fake.add_webhook_endpoint(receiver.url)
    checkout, payment_id = _pay(fake, ApiClient(fake))

    payload = json.loads(receiver.wait_for(1)[0].body)

    if version == "v2024-11":
        assert payload["type_event"] == "payment.purchase"
        assert payload["data"]["payment_id"] == payment_id
    elif version == "svix":
        assert set(payload) == {"type", "data"}
        assert payload["type"] == "payment.purchase"
        assert payload["data"]["payment"]["payment_id"] == payment_id
    else:
        assert payload["event_type"] == "order.update"
        assert payload["data"]["order_id"] == checkout["order"]["order_id"]
        assert payload["data"]["merchant_order_id"] == "1366656595193"
        assert payload["data"]["status"] == "COMPLETED"
        assert re.match(r"^\d{13}$", payload["data"]["update_at"])


@pytest.mark.orkestapay_profile("rich")  # test_evidence_profile has the evidence profile's events
def test_events_for_decline_cancel_settle_refund(
    fake: FakeOrkestaPay, api: ApiClient, receiver: WebhookReceiver
) -> None:
    fake.add_webhook_endpoint(receiver.url)
    declined = api.create_checkout()
    canceled = api.create_checkout()
    pending = api.create_checkout()

    fake.decline(declined["checkout_id"])
    fake.cancel(canceled["checkout_id"])
    pending_payment = parse_qs(urlsplit(fake.pay_pending(pending["checkout_id"])).query)["payment_id"][0]
    fake.settle(pending_payment)
    api.post(f"/v1/payments/{pending_payment}/refund", {"amount": 40})
    receiver.wait_for(4)

    payloads = receiver.payloads()
    assert [p["type_event"] for p in payloads] == [
        "payment.cancel",
        "payment.cancel",
        "payment.purchase",
        "payment.refund",
    ]
    assert payloads[0]["data"]["payment"]["status"] == "REJECTED"
    assert payloads[1]["data"]["payment"]["order_id"] == canceled["order"]["order_id"]
    assert payloads[2]["data"]["payment"]["payment_id"] == pending_payment
    refund = payloads[3]["data"]["payment"]
    assert refund["amount"]["refunded"] == 40
    assert refund["transactions"][-1]["type"] == "REFUND"


def test_cancel_events_can_be_switched_off(make_fake: Any, receiver: WebhookReceiver) -> None:
    fake = make_fake(emit_cancel_events=False)
    fake.add_webhook_endpoint(receiver.url)
    api = ApiClient(fake)
    fake.decline(api.create_checkout()["checkout_id"])
    fake.cancel(api.create_checkout()["checkout_id"])
    _pay(fake, api)

    receiver.wait_for(1)
    assert fake.wait_for_webhooks()

    assert [p["type_event"] for p in receiver.payloads()] == ["payment.purchase"]


def test_endpoint_event_subscriptions(fake: FakeOrkestaPay, api: ApiClient, receiver: WebhookReceiver) -> None:
    other = WebhookReceiver().start()
    try:
        fake.add_webhook_endpoint(receiver.url, events=["payment.refund"])
        fake.add_webhook_endpoint(other.url)
        _, payment_id = _pay(fake, api)
        api.post(f"/v1/payments/{payment_id}/refund", {"amount": 1})
        other.wait_for(2)
        assert fake.wait_for_webhooks()

        assert [p["type_event"] for p in receiver.payloads()] == ["payment.refund"]
        assert [p["type_event"] for p in other.payloads()] == ["payment.purchase", "payment.refund"]
        assert receiver.deliveries[0].headers["svix-id"] == other.deliveries[1].headers["svix-id"]
    finally:
        other.stop()


def test_retry_on_500_with_the_same_message_id(fake: FakeOrkestaPay, api: ApiClient, receiver: WebhookReceiver) -> None:
    secret = fake.add_webhook_endpoint(receiver.url)
    fake.webhook_retry_time_factor = 0.001
    receiver.statuses = [500, 503]
    _pay(fake, api)

    deliveries = receiver.wait_for(3)
    assert fake.wait_for_webhooks()

    assert len({d.headers["svix-id"] for d in deliveries}) == 1
    for delivery in deliveries:
        _verify_both(secret, delivery)
    log = fake.webhook_log
    assert [(a.attempt, a.status, a.ok) for a in log] == [(1, 500, False), (2, 503, False), (3, 200, True)]
    assert {a.msg_id for a in log} == {deliveries[0].headers["svix-id"]}
    assert log[0].event_type == "payment.purchase"
    assert log[0].url == receiver.url


def test_retries_follow_the_schedule_and_give_up(make_fake: Any) -> None:
    fake = make_fake(webhook_retry_time_factor=0.00001)
    fake.add_webhook_endpoint("http://127.0.0.1:9/unreachable")
    _pay(fake, ApiClient(fake))

    assert fake.wait_for_webhooks(timeout=10)

    log = fake.webhook_log
    assert [a.attempt for a in log] == [1, 2, 3, 4, 5, 6, 7, 8]
    assert all(a.status is None and a.error for a in log)


def test_slow_receiver_times_out_and_is_retried(make_fake: Any, receiver: WebhookReceiver) -> None:
    fake = make_fake(webhook_timeout=0.2, webhook_retry_time_factor=0.001)
    fake.add_webhook_endpoint(receiver.url)
    receiver.delay = 0.5
    _pay(fake, ApiClient(fake))

    receiver.wait_for(1)
    receiver.delay = 0.0
    receiver.wait_for(2)
    assert fake.wait_for_webhooks()

    log = fake.webhook_log
    assert log[0].status is None
    assert "timed out" in (log[0].error or "").lower()
    assert log[-1].ok


def test_duplicate_mode(fake: FakeOrkestaPay, api: ApiClient, receiver: WebhookReceiver) -> None:
    fake.add_webhook_endpoint(receiver.url)
    fake.webhook_mode = "duplicate"
    _pay(fake, api)

    deliveries = receiver.wait_for(2)

    assert len(deliveries) == 2
    assert deliveries[0].headers["svix-id"] == deliveries[1].headers["svix-id"]
    assert deliveries[0].body == deliveries[1].body


def test_out_of_order_mode_sends_refund_before_purchase(
    fake: FakeOrkestaPay, api: ApiClient, receiver: WebhookReceiver
) -> None:
    fake.add_webhook_endpoint(receiver.url)
    fake.webhook_mode = "out_of_order"
    _, payment_id = _pay(fake, api)
    assert fake.wait_for_webhooks()
    assert receiver.deliveries == []

    api.post(f"/v1/payments/{payment_id}/refund", {"amount": 10})
    receiver.wait_for(2)

    assert [p["type_event"] for p in receiver.payloads()] == ["payment.refund", "payment.purchase"]


def test_drop_mode(fake: FakeOrkestaPay, api: ApiClient, receiver: WebhookReceiver) -> None:
    fake.add_webhook_endpoint(receiver.url)
    fake.webhook_mode = "drop"
    _pay(fake, api)

    assert fake.wait_for_webhooks()
    time.sleep(0.1)

    assert receiver.deliveries == []
    [entry] = fake.webhook_log
    assert entry.attempt == 0
    assert entry.error == "dropped"
    assert entry.event_type == "payment.purchase"


def test_manual_mode_holds_until_flush(fake: FakeOrkestaPay, api: ApiClient, receiver: WebhookReceiver) -> None:
    fake.add_webhook_endpoint(receiver.url)
    fake.webhook_mode = "manual"
    _, payment_id = _pay(fake, api)
    api.post(f"/v1/payments/{payment_id}/refund", {"amount": 10})
    time.sleep(0.1)
    assert receiver.deliveries == []

    assert fake.flush_webhooks() == 2
    receiver.wait_for(2)

    assert [p["type_event"] for p in receiver.payloads()] == ["payment.purchase", "payment.refund"]


def test_delay_mode(fake: FakeOrkestaPay, api: ApiClient, receiver: WebhookReceiver) -> None:
    fake.add_webhook_endpoint(receiver.url)
    fake.webhook_mode = "delay"
    fake.webhook_delay = 0.4
    started = time.monotonic()
    _pay(fake, api)

    assert fake.wait_for_webhooks(timeout=0.1) is False
    receiver.wait_for(1)

    assert time.monotonic() - started >= 0.4
    assert len(receiver.deliveries) == 1


@pytest.mark.parametrize("tamper", ["bad_signature", "old_timestamp"])
def test_tampered_deliveries_fail_verification(
    fake: FakeOrkestaPay, api: ApiClient, receiver: WebhookReceiver, tamper: str
) -> None:
    secret = fake.add_webhook_endpoint(receiver.url)
    fake.webhook_tamper = tamper
    _pay(fake, api)

    [delivery] = receiver.wait_for(1)

    with pytest.raises(WebhookVerificationError):
        Webhook(secret).verify(delivery.body, delivery.headers)


def test_rotated_secret_sends_two_signatures(fake: FakeOrkestaPay, api: ApiClient, receiver: WebhookReceiver) -> None:
    secret = fake.add_webhook_endpoint(receiver.url)
    fake.webhook_tamper = "rotated_secret"
    _pay(fake, api)

    [delivery] = receiver.wait_for(1)

    assert len(delivery.headers["svix-signature"].split(" ")) == 2
    _verify_both(secret, delivery)


def test_resend_keeps_the_message_id(fake: FakeOrkestaPay, api: ApiClient, receiver: WebhookReceiver) -> None:
    fake.add_webhook_endpoint(receiver.url)
    _pay(fake, api)
    [first] = receiver.wait_for(1)

    fake.resend_webhook(first.headers["svix-id"])
    deliveries = receiver.wait_for(2)

    assert len(deliveries) == 2
    assert deliveries[1].headers["svix-id"] == first.headers["svix-id"]


def test_reset_drops_queued_messages(fake: FakeOrkestaPay, api: ApiClient, receiver: WebhookReceiver) -> None:
    fake.add_webhook_endpoint(receiver.url)
    fake.webhook_mode = "manual"
    _pay(fake, api)

    fake.reset()

    assert fake.webhook_mode == "normal"
    assert fake.flush_webhooks() == 0
    assert fake.webhook_log == []
    assert len(fake.webhook_endpoints) == 1


def test_webhook_control_routes(fake: FakeOrkestaPay, api: ApiClient, receiver: WebhookReceiver) -> None:
    http = session()
    base = fake.base_url

    secret = http.post(f"{base}/_fake/webhooks/endpoints", json={"url": receiver.url}, timeout=5).json()["secret"]
    config = http.post(f"{base}/_fake/webhooks/config", json={"mode": "manual"}, timeout=5)
    _pay(fake, api)
    released = http.post(f"{base}/_fake/webhooks/flush", timeout=5).json()
    [delivery] = receiver.wait_for(1)
    assert fake.wait_for_webhooks()
    log = http.get(f"{base}/_fake/webhooks/log", timeout=5).json()["attempts"]
    bad = http.post(f"{base}/_fake/webhooks/config", json={"mode": "chaos"}, timeout=5)

    assert config.status_code == 200
    assert config.json()["mode"] == "manual"
    assert released == {"released": 1}
    _verify_both(secret, delivery)
    assert [(a["attempt"], a["status"], a["event_type"]) for a in log] == [(1, 200, "payment.purchase")]
    assert bad.status_code == 400
