"""Orders and payments through the API, the Python scenario drivers, the state machine and lazy expiry."""

from __future__ import annotations

from decimal import Decimal
from typing import Any
from urllib.parse import parse_qs, urlsplit

import pytest

from django_orkestapay.testing import (
    CheckoutClosed,
    CheckoutExpired,
    FakeGatewayError,
    FakeOrkestaPay,
    InvalidTransition,
)

from .helpers import ApiClient, FakeClock

#: The rich profile's shapes and statuses (``test_evidence_profile`` has the evidence profile's).
rich = pytest.mark.orkestapay_profile("rich")


def _param(url: str, name: str) -> str:
    return parse_qs(urlsplit(url).query)[name][0]


@rich
def test_drivers_follow_the_hosted_page_semantics(fake: FakeOrkestaPay, api: ApiClient) -> None:
    checkout = api.create_checkout()
    cid, oid = checkout["checkout_id"], checkout["order"]["order_id"]

    fake.decline(cid)
    url = fake.pay(cid)

    assert url.startswith("https://shop.example/complete?orkesta=completed&ref=abc%20def&order_id=")
    assert _param(url, "order_id") == oid
    assert _param(url, "checkout_id") == cid
    order = fake.get_order(oid)
    assert order["status"] == "COMPLETED"
    assert [p["status"] for p in order["payments"]] == ["REJECTED", "COMPLETED"]
    assert order["payment_id"] == _param(url, "payment_id")
    assert fake.pay(cid) == url
    with pytest.raises(CheckoutClosed):
        fake.decline(cid)


@rich
def test_cancel_driver_and_pending_driver(fake: FakeOrkestaPay, api: ApiClient) -> None:
    canceled = api.create_checkout()
    pending = api.create_checkout()

    cancel_url = fake.cancel(canceled["checkout_id"])
    pending_url = fake.pay_pending(pending["checkout_id"])

    assert cancel_url.startswith("https://shop.example/cancel?orkesta=canceled&order_id=")
    assert fake.get_order(canceled["order"]["order_id"])["status"] == "CANCELED"
    assert fake.cancel(canceled["checkout_id"]) == cancel_url
    assert fake.get_order(pending["order"]["order_id"])["status"] == "PAYMENT_ACTION_REQUIRED"
    assert fake.pay_pending(pending["checkout_id"]) == pending_url


def test_settle_only_pending_payments(fake: FakeOrkestaPay, api: ApiClient) -> None:
    checkout = api.create_checkout()
    payment_id = _param(fake.pay(checkout["checkout_id"]), "payment_id")

    with pytest.raises(FakeGatewayError):
        fake.settle(payment_id)
    with pytest.raises(KeyError):
        fake.settle("pay_00000000000000000000000000000000")


@rich
def test_order_lazily_expires_on_read(make_fake: Any) -> None:
    clock = FakeClock()
    fake = make_fake(clock=clock, checkout_lifetime=120)
    api = ApiClient(fake)
    checkout = api.create_checkout()
    oid = checkout["order"]["order_id"]

    clock.advance(119)
    assert api.get(f"/v1/orders/{oid}").json()["status"] == "CREATED"
    clock.advance(1)
    expired = api.get(f"/v1/orders/{oid}").json()

    assert expired["status"] == "EXPIRED"
    assert expired["updated_at"] == str(int(clock.now * 1000))
    with pytest.raises(CheckoutExpired):
        fake.pay(checkout["checkout_id"])


def test_paid_order_does_not_expire(make_fake: Any) -> None:
    clock = FakeClock()
    fake = make_fake(clock=clock, checkout_lifetime=60)
    checkout = ApiClient(fake).create_checkout()
    fake.pay(checkout["checkout_id"])

    clock.advance(3600)

    assert fake.get_order(checkout["order"]["order_id"])["status"] == "COMPLETED"


@rich
def test_expire_checkout_now(fake: FakeOrkestaPay, api: ApiClient) -> None:
    checkout = api.create_checkout()

    fake.expire_checkout(checkout["checkout_id"])

    assert api.get(f"/v1/checkouts/{checkout['checkout_id']}").json()["order"]["status"] == "EXPIRED"


def test_set_order_status_bypasses_the_guard_but_transitions_do_not(fake: FakeOrkestaPay, api: ApiClient) -> None:
    checkout = api.create_checkout()
    oid = checkout["order"]["order_id"]

    fake.set_order_status(oid, "REFUNDED")
    assert api.get(f"/v1/orders/{oid}").json()["status"] == "REFUNDED"
    order = fake.state.orders[oid]
    with pytest.raises(InvalidTransition):
        fake.state.transition(order, "COMPLETED")


@pytest.mark.parametrize(
    ("start", "target", "allowed"),
    [
        ("CREATED", "COMPLETED", True),
        ("CREATED", "EXPIRED", True),
        ("PAYMENT_ACTION_REQUIRED", "COMPLETED", True),
        ("PAYMENT_ACTION_REQUIRED", "CANCELED", False),
        ("COMPLETED", "PARTIALLY_REFUNDED", True),
        ("COMPLETED", "CREATED", False),
        ("COMPLETED", "CANCELED", False),
        ("PARTIALLY_REFUNDED", "PARTIALLY_REFUNDED", True),
        ("REFUNDED", "COMPLETED", False),
        ("CANCELED", "COMPLETED", False),
        ("EXPIRED", "COMPLETED", False),
    ],
)
def test_state_machine(fake: FakeOrkestaPay, api: ApiClient, start: str, target: str, allowed: bool) -> None:
    oid = api.create_checkout()["order"]["order_id"]
    fake.set_order_status(oid, start)
    order = fake.state.orders[oid]

    if allowed:
        fake.state.transition(order, target)
        assert order.status == target
    else:
        with pytest.raises(InvalidTransition):
            fake.state.transition(order, target)


@rich
def test_order_payments_page_and_payment_lookup(fake: FakeOrkestaPay, api: ApiClient) -> None:
    checkout = api.create_checkout()
    oid = checkout["order"]["order_id"]
    fake.pay(checkout["checkout_id"])

    page = api.get(f"/v1/orders/{oid}/payments").json()
    missing_order = api.get("/v1/orders/ord_00000000000000000000000000000000/payments")
    missing_payment = api.get("/v1/payments/pay_00000000000000000000000000000000")

    assert page["totalElements"] == 1
    assert len(page["content"]) == 1
    payment = page["content"][0]
    assert payment["order_id"] == oid
    assert payment["merchant_order_id"] == "1366656595193"
    assert api.get(f"/v1/payments/{payment['payment_id']}").json() == payment
    assert missing_order.status_code == 404
    assert missing_payment.status_code == 404


def test_snapshots_are_copies(fake: FakeOrkestaPay, api: ApiClient) -> None:
    checkout = api.create_checkout()
    oid = checkout["order"]["order_id"]

    fake.orders[oid]["status"] = "TAMPERED"
    fake.checkouts[checkout["checkout_id"]]["order"]["products"].clear()

    assert fake.get_order(oid)["status"] == "CREATED"
    assert len(fake.get_order(oid)["products"]) == 1


def test_reset_clears_state_but_keeps_credentials(fake: FakeOrkestaPay, api: ApiClient) -> None:
    checkout = api.create_checkout()
    fake.inject_fault("GET", "/v1/*", "status", status=500)
    fake.decline_marks_order_failed = True

    fake.reset()

    assert fake.orders == {}
    assert fake.checkouts == {}
    assert fake.payments == {}
    assert fake.request_log == []
    assert fake.faults == []
    assert fake.decline_marks_order_failed is False
    assert api.get(f"/v1/orders/{checkout['order']['order_id']}").status_code == 401  # token forgotten
    assert ApiClient(fake).get(f"/v1/orders/{checkout['order']['order_id']}").status_code == 404


def test_tamper_order_changes_what_the_api_reports(fake: FakeOrkestaPay, api: ApiClient) -> None:
    checkout = api.create_checkout()
    oid = checkout["order"]["order_id"]
    url = fake.pay(checkout["checkout_id"])

    fake.tamper_order(oid, total_amount=Decimal("1.00"), currency="USD", merchant_order_id="someone-else")

    response = api.get(f"/v1/orders/{oid}")
    order = response.json()
    assert '"total_amount":1.00' in response.text
    assert order["currency"] == "USD"
    assert order["merchant_order_id"] == "someone-else"
    assert order["status"] == "COMPLETED"
    payment = api.get(f"/v1/payments/{_param(url, 'payment_id')}").json()
    assert payment["merchant_order_id"] == "someone-else"
    assert payment["amount"]["authorized"] == 990
    with pytest.raises(ValueError, match="payments"):
        fake.tamper_order(oid, payments=[])
