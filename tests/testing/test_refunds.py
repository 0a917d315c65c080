"""POST /v1/payments/{id}/refund: balance, statuses, Idempotency-Key replay, conflict and expiry, merchant settings;
refunds answered pending and settled later, refunds made in the portal."""

from __future__ import annotations

from typing import Any
from urllib.parse import parse_qs, urlsplit

import pytest

from django_orkestapay.testing import FakeOrkestaPay
from django_orkestapay.testing.records import FakeGatewayError, RefundError

from .helpers import ApiClient, FakeClock, WebhookReceiver, seed_body, session

#: The rich profile's refund answers and statuses (``test_evidence_profile`` has the evidence profile's).
pytestmark = pytest.mark.orkestapay_profile("rich")


def _paid(fake: FakeOrkestaPay, api: ApiClient, **order: Any) -> tuple[str, str]:
    checkout = api.create_checkout(seed_body(**order))
    url = fake.pay(checkout["checkout_id"])
    return checkout["order"]["order_id"], parse_qs(urlsplit(url).query)["payment_id"][0]


def _refund(api: ApiClient, payment_id: str, body: Any, key: str | None = None) -> Any:
    headers = {"Idempotency-Key": key} if key else {}
    return api.post(f"/v1/payments/{payment_id}/refund", body, headers=headers)


def test_partial_then_full_refund(fake: FakeOrkestaPay, api: ApiClient) -> None:
    order_id, payment_id = _paid(fake, api)

    first = _refund(api, payment_id, '{"amount": 90.50, "description": "one item"}')
    after_first = api.get(f"/v1/orders/{order_id}").json()["status"]
    second = _refund(api, payment_id, {"amount": 899.5})

    assert first.status_code == 200
    transaction = first.json()
    assert transaction["type"] == "REFUND"
    assert transaction["status"] == "SUCCESS"
    assert transaction["transaction_id"].startswith("ctx_")
    assert transaction["provider"]["name"] == "FakeProvider"
    assert '"amount":90.50' in first.text
    assert transaction["description"] == "one item"
    assert after_first == "PARTIALLY_REFUNDED"
    assert second.status_code == 200
    payment = api.get(f"/v1/payments/{payment_id}").json()
    assert payment["status"] == "REFUNDED"
    assert payment["amount"]["refunded"] == 990
    assert [t["type"] for t in payment["transactions"]] == ["PURCHASE", "REFUND", "REFUND"]
    assert api.get(f"/v1/orders/{order_id}").json()["status"] == "REFUNDED"


@pytest.mark.parametrize("amount", [0, -1, 990.01, 1000, "ten", None])
def test_refund_amount_must_be_within_the_balance(fake: FakeOrkestaPay, api: ApiClient, amount: Any) -> None:
    _, payment_id = _paid(fake, api)

    response = _refund(api, payment_id, {"amount": amount} if amount is not None else {})

    assert response.status_code == 400
    assert response.json()["message"]
    assert response.json()["category"] == "VALIDATION"
    assert api.get(f"/v1/payments/{payment_id}").json()["status"] == "COMPLETED"


def test_over_refund_after_a_partial_refund(fake: FakeOrkestaPay, api: ApiClient) -> None:
    _, payment_id = _paid(fake, api)
    assert _refund(api, payment_id, {"amount": 900}).status_code == 200

    response = _refund(api, payment_id, {"amount": 90.01})

    assert response.status_code == 400
    assert "90" in response.json()["message"]


def test_refund_of_unpaid_or_unknown_payment(fake: FakeOrkestaPay, api: ApiClient) -> None:
    checkout = api.create_checkout()
    fake.decline(checkout["checkout_id"])
    rejected = fake.get_order(checkout["order"]["order_id"])["payment_id"]

    assert _refund(api, rejected, {"amount": 1}).status_code == 400
    assert _refund(api, "pay_00000000000000000000000000000000", {"amount": 1}).status_code == 404


def test_same_key_and_body_replays_the_stored_response(fake: FakeOrkestaPay, api: ApiClient) -> None:
    _, payment_id = _paid(fake, api)

    first = _refund(api, payment_id, {"amount": 100, "description": "x"}, key="refund-1")
    replay = _refund(api, payment_id, {"description": "x", "amount": 100}, key="refund-1")

    assert first.status_code == replay.status_code == 200
    assert replay.json() == first.json()
    assert replay.headers.get("Idempotent-Replayed") == "true"
    payment = api.get(f"/v1/payments/{payment_id}").json()
    assert payment["amount"]["refunded"] == 100
    assert [t["type"] for t in payment["transactions"]].count("REFUND") == 1


def test_same_key_different_body_conflicts(fake: FakeOrkestaPay, api: ApiClient) -> None:
    _, payment_id = _paid(fake, api)
    _refund(api, payment_id, {"amount": 100}, key="refund-1")

    conflict = _refund(api, payment_id, {"amount": 200}, key="refund-1")
    other_key = _refund(api, payment_id, {"amount": 200}, key="refund-2")

    assert conflict.status_code == 409
    assert conflict.json()["message"]
    assert other_key.status_code == 200
    assert api.get(f"/v1/payments/{payment_id}").json()["amount"]["refunded"] == 300


def test_conflict_status_is_configurable_and_keys_expire(make_fake: Any) -> None:
    clock = FakeClock()
    fake = make_fake(clock=clock, idempotency_conflict_status=422, idempotency_ttl=60, token_lifetime=10**6)
    api = ApiClient(fake)
    _, payment_id = _paid(fake, api)
    _refund(api, payment_id, {"amount": 100}, key="k")

    assert _refund(api, payment_id, {"amount": 5}, key="k").status_code == 422
    clock.advance(61)
    assert _refund(api, payment_id, {"amount": 5}, key="k").status_code == 200


def test_without_a_key_each_request_refunds(fake: FakeOrkestaPay, api: ApiClient) -> None:
    _, payment_id = _paid(fake, api)

    _refund(api, payment_id, {"amount": 10})
    _refund(api, payment_id, {"amount": 10})

    assert api.get(f"/v1/payments/{payment_id}").json()["amount"]["refunded"] == 20


def test_a_refund_lost_in_a_timeout_is_replayed_by_its_key(fake: FakeOrkestaPay, api: ApiClient) -> None:
    _, payment_id = _paid(fake, api)
    fake.inject_fault("POST", "/v1/payments/*/refund", "connection_reset", after_processing=True)

    with pytest.raises(Exception):  # noqa: PT011 - any transport error
        _refund(api, payment_id, {"amount": 50}, key="retry-me")
    retry = _refund(api, payment_id, {"amount": 50}, key="retry-me")

    assert retry.status_code == 200
    assert retry.headers.get("Idempotent-Replayed") == "true"
    assert api.get(f"/v1/payments/{payment_id}").json()["amount"]["refunded"] == 50


def test_merchant_setting_and_disabled_refunds(make_fake: Any, api: ApiClient) -> None:
    enabled = api.get("/v1/merchants/settings", params={"id": "AVAILABLE_REFUND_BY_ECOMMERCE"}).json()
    fake = make_fake(refunds_enabled=False)
    other = ApiClient(fake)
    disabled = other.get("/v1/merchants/settings", params={"id": "AVAILABLE_REFUND_BY_ECOMMERCE"}).json()
    _, payment_id = _paid(fake, other)

    assert enabled == {"custom_settings": {"AVAILABLE_REFUND_BY_ECOMMERCE": True}}
    assert disabled == {"custom_settings": {"AVAILABLE_REFUND_BY_ECOMMERCE": False}}
    assert _refund(other, payment_id, {"amount": 1}).status_code == 400


def test_declined_refund(make_fake: Any) -> None:
    fake = make_fake(decline_refunds=True)
    api = ApiClient(fake)
    _, payment_id = _paid(fake, api)

    response = _refund(api, payment_id, {"amount": 10})

    assert response.status_code == 200
    assert response.json()["status"] == "FAILED"
    assert response.json()["provider"]["message"]
    assert api.get(f"/v1/payments/{payment_id}").json()["status"] == "COMPLETED"


def _refund_events(receiver: WebhookReceiver, count: int) -> list[dict[str, Any]]:
    receiver.wait_for(count)
    return [p for p in receiver.payloads() if p["type_event"] == "payment.refund"]


def test_a_pending_refund_reserves_its_amount_until_it_settles(
    fake: FakeOrkestaPay, api: ApiClient, receiver: WebhookReceiver
) -> None:
    fake.add_webhook_endpoint(receiver.url)
    order_id, payment_id = _paid(fake, api)
    fake.refund_outcome = "pending"

    answer = _refund(api, payment_id, {"amount": 900}, key="slow").json()
    over = _refund(api, payment_id, {"amount": 91})  # 900 pending + 91 > 990
    pending_view = api.get(f"/v1/payments/{payment_id}").json()
    settled = fake.settle_refund(answer["transaction_id"])
    events = _refund_events(receiver, 2)

    assert (answer["status"], answer["type"]) == ("PENDING", "REFUND")
    assert over.status_code == 400
    assert pending_view["status"] == "COMPLETED"
    assert "refunded" not in pending_view["amount"]
    assert settled["status"] == "SUCCESS"
    payment = api.get(f"/v1/payments/{payment_id}").json()
    assert (payment["status"], payment["amount"]["refunded"]) == ("PARTIALLY_REFUNDED", 900)
    assert [t["status"] for t in payment["transactions"] if t["type"] == "REFUND"] == ["SUCCESS"]
    assert api.get(f"/v1/orders/{order_id}").json()["status"] == "PARTIALLY_REFUNDED"
    assert [e["data"]["payment"]["amount"]["refunded"] for e in events] == [900]
    with pytest.raises(FakeGatewayError):  # settled already
        fake.settle_refund(answer["transaction_id"])


def test_a_pending_refund_can_fail_and_frees_its_amount(fake: FakeOrkestaPay, api: ApiClient) -> None:
    _, payment_id = _paid(fake, api)
    fake.refund_outcome = "pending"
    answer = _refund(api, payment_id, {"amount": 990}).json()

    failed = fake.settle_refund(answer["transaction_id"], succeed=False)
    fake.refund_outcome = "success"
    again = _refund(api, payment_id, {"amount": 990})

    assert (failed["status"], failed["code"]) == ("FAILED", "DECLINED")
    assert again.status_code == 200
    assert api.get(f"/v1/payments/{payment_id}").json()["amount"]["refunded"] == 990


def test_a_portal_refund_needs_no_key_and_is_published(make_fake: Any, receiver: WebhookReceiver) -> None:
    fake = make_fake(refunds_enabled=False)  # the e-commerce setting does not govern the portal
    fake.add_webhook_endpoint(receiver.url)
    api = ApiClient(fake)
    _, payment_id = _paid(fake, api)

    transaction = fake.refund_from_portal(payment_id, 100)
    events = _refund_events(receiver, 2)

    assert transaction["status"] == "SUCCESS"
    assert fake.count_requests("POST", prefix="/v1/payments/") == 0
    assert fake.get_payment(payment_id)["amount"]["refunded"] == 100
    assert [e["data"]["payment"]["amount"]["refunded"] for e in events] == [100]
    with pytest.raises(RefundError):
        fake.refund_from_portal(payment_id, 891)


def test_refund_control_routes(fake: FakeOrkestaPay, api: ApiClient) -> None:
    _, payment_id = _paid(fake, api)
    http = session()
    portal = http.post(f"{fake.base_url}/_fake/payments/{payment_id}/portal_refund", json={"amount": 10}, timeout=5)
    no_amount = http.post(f"{fake.base_url}/_fake/payments/{payment_id}/portal_refund", json={}, timeout=5)
    fake.refund_outcome = "pending"
    pending = _refund(api, payment_id, {"amount": 20}).json()
    declined = http.post(
        f"{fake.base_url}/_fake/refunds/{pending['transaction_id']}/settle", json={"succeed": False}, timeout=5
    )
    unknown = http.post(f"{fake.base_url}/_fake/refunds/ctx_nope/settle", timeout=5)

    assert portal.status_code == 200
    assert portal.json()["status"] == "SUCCESS"
    assert no_amount.status_code == 400
    assert declined.status_code == 200
    assert declined.json()["status"] == "FAILED"
    assert unknown.status_code == 404
    assert fake.get_payment(payment_id)["amount"]["refunded"] == 10


def test_refund_outcome_is_checked_and_reset(fake: FakeOrkestaPay) -> None:
    fake.refund_outcome = "declined"
    assert fake.decline_refunds
    fake.decline_refunds = False
    assert fake.refund_outcome == "success"
    fake.refund_outcome = "pending"
    with pytest.raises(ValueError, match="unknown refund outcome"):
        fake.refund_outcome = "maybe"
    fake.reset()
    assert fake.refund_outcome == "success"


def test_an_expired_key_is_processed_again(make_fake: Any) -> None:
    clock = FakeClock()
    fake = make_fake(clock=clock, idempotency_ttl=60, token_lifetime=10**6)
    api = ApiClient(fake)
    _, payment_id = _paid(fake, api)

    first = _refund(api, payment_id, {"amount": 100}, key="same")
    replay = _refund(api, payment_id, {"amount": 100}, key="same")
    clock.advance(61)
    after_expiry = _refund(api, payment_id, {"amount": 100}, key="same")

    assert replay.headers.get("Idempotent-Replayed") == "true"
    assert after_expiry.headers.get("Idempotent-Replayed") is None
    assert after_expiry.json()["transaction_id"] != first.json()["transaction_id"]
    assert api.get(f"/v1/payments/{payment_id}").json()["amount"]["refunded"] == 200
