"""The probe's newer questions on answers the fake gateway never gives (HTTP mocked with ``responses``): a refused
secret answered 400, a rate limit with and without ``Retry-After``, pages counted from 1, a pending payment the
order does not reveal, and webhook envelopes or headers the package cannot read."""

from __future__ import annotations

import time
from collections.abc import Iterator
from typing import Any

import pytest
import responses

from django_orkestapay.client import SANDBOX_BASE_URL, OrkestaPayClient
from django_orkestapay.probe import ProbeConfig, ProbeContext, Redactor, Verdict
from django_orkestapay.probe.listener import Delivery, ReturnListener
from django_orkestapay.probe.questions_auth import _bad_secret_row
from django_orkestapay.probe.questions_limits import BURST, ask_limits
from django_orkestapay.probe.questions_pending import _pending
from django_orkestapay.probe.questions_webhooks import _envelope_row, _headers_row

API = SANDBOX_BASE_URL
ORDER = "ord_0123456789abcdef0123456789abcdef"
PAYMENTS_URL = f"{API}/v1/orders/{ORDER}/payments"
SETTINGS_URL = f"{API}/v1/merchants/settings"


@pytest.fixture
def api() -> Iterator[responses.RequestsMock]:
    with responses.RequestsMock(assert_all_requests_are_fired=False) as mock:
        mock.post(f"{API}/v1/oauth/tokens", json={"access_token": "t", "token_type": "Bearer", "expires_in": 1800})
        yield mock


@pytest.fixture
def ctx() -> Iterator[ProbeContext]:
    config = ProbeConfig(client_id="probe-id", client_secret="probe-secret-123456", return_timeout=0.5)
    with OrkestaPayClient(client_id=config.client_id, client_secret=config.client_secret, max_retries=0) as client:
        yield ProbeContext(config, client, Redactor([config.client_secret]), present=lambda side, checkout: None)


@pytest.mark.parametrize(
    ("status", "body", "verdict"),
    [
        (401, {"error": "invalid_client"}, Verdict.MATCH),
        (403, {"message": "Forbidden"}, Verdict.MATCH),
        (400, {"message": "Bad credentials"}, Verdict.MISMATCH),
        (401, None, Verdict.MISMATCH),  # no body to read a message from
    ],
)
def test_a_refused_client_secret(api, ctx, status, body, verdict):
    api.replace("POST", f"{API}/v1/oauth/tokens", status=status, json=body)

    row = _bad_secret_row(ctx)

    assert row.verdict is verdict
    sent = api.calls[-1].request.body
    assert b"probe-secret-123456-wrong-" in sent  # the right id, a wrong secret...
    assert "probe-secret-123456" not in ctx.redactor.text(str(row.evidence))  # ...never in the report


def test_a_rate_limit_with_retry_after_is_reported(api, ctx):
    for _ in range(4):
        api.get(SETTINGS_URL, json={"custom_settings": {"AVAILABLE_REFUND_BY_ECOMMERCE": True}})
    api.get(SETTINGS_URL, status=429, json={"message": "Too many requests"}, headers={"Retry-After": "7"})

    burst, paging = ask_limits(ctx)

    assert burst.verdict is Verdict.MATCH
    assert burst.observed == "429 after 4 reads, Retry-After 7 s"
    assert burst.evidence["statuses"] == {"200": 4, "429": BURST - 4}
    assert paging.verdict is Verdict.SKIPPED


def test_a_rate_limit_without_retry_after_is_told(api, ctx):
    api.get(SETTINGS_URL, status=429, json={"message": "Too many requests"})

    burst, _ = ask_limits(ctx)

    assert (burst.verdict, burst.observed) == (Verdict.INFO, "429 after 0 reads, without a readable Retry-After")


def page(items: int, number: int) -> dict[str, Any]:
    content = [{"payment_id": "pay_1", "status": "COMPLETED"}] * items
    return {"content": content, "number": number, "totalPages": 1, "last": True}


@pytest.mark.parametrize(
    ("answers", "verdict", "observed"),
    [
        ([page(1, 0), page(0, 1)], Verdict.MATCH, "?page=1 is past the end: counted from 0"),
        (
            [page(1, 1), page(1, 1), page(0, 2)],
            Verdict.MISMATCH,
            "?page=1 answers the first page again: counted from 1",
        ),
        ([page(1, 0), page(1, 0), page(1, 0)], Verdict.INFO, None),
    ],
)
def test_how_payments_page(api, ctx, answers, verdict, observed):
    api.get(SETTINGS_URL, json={"custom_settings": {}})
    for answer in answers:
        api.get(PAYMENTS_URL, json=answer)
    ctx.memo["paid"] = {"order_id": ORDER}

    _, paging = ask_limits(ctx)

    assert paging.verdict is verdict
    if observed:
        assert paging.observed == observed
    pages = [call.request.url for call in api.calls if call.request.url.startswith(PAYMENTS_URL)]
    assert pages[1:] == [f"{PAYMENTS_URL}?page=1", f"{PAYMENTS_URL}?page=2"][: len(answers) - 1]


def test_a_pending_payment_on_an_order_still_created_is_seen(api, ctx):
    """The package lists an order's payments whatever the order's status: a transfer waiting on an order that
    OrkestaPay still reports CREATED, naming no payment, is seen (the row records the order's status)."""
    checkout = {
        "checkout_id": "chk_1",
        "checkout_redirect_url": "https://checkout.sand.orkestapay.com/#/checkout/chk_1/x",
        "order": {"order_id": ORDER, "status": "CREATED"},
    }
    api.post(f"{API}/v1/checkouts", json=checkout)
    api.get(PAYMENTS_URL, json={"content": [{"payment_id": "pay_1", "status": "PAYMENT_ACTION_REQUIRED"}]})
    api.get(f"{API}/v1/orders/{ORDER}", json={"order_id": ORDER, "status": "CREATED"})  # names no payment
    api.get(f"{API}/v1/payments/pay_1", json={"payment_id": "pay_1", "status": "PAYMENT_ACTION_REQUIRED"})
    with ReturnListener(ctx.run_id) as listener:
        order, payment = _pending(ctx, listener)

    assert order.verdict is Verdict.MATCH
    assert order.observed == "order CREATED; payments PAYMENT_ACTION_REQUIRED; the order does not name its payment"
    assert payment.verdict is Verdict.INFO


def delivery(body: Any, **headers: str) -> Delivery:
    return Delivery(tuple((name.replace("_", "-"), value) for name, value in headers.items()), body, time.monotonic())


SIGNED = {"svix_id": "msg_" + "ab" * 16, "svix_timestamp": "1700000000", "svix_signature": "v1,abc="}


def test_an_event_name_under_type_only_is_read_by_the_package():
    body = {"type": "payment.purchase", "data": {"payment": {"order_id": ORDER, "payment_id": "pay_1"}}}

    row = _envelope_row([delivery(body, **SIGNED)])

    assert row.verdict is Verdict.MATCH
    assert row.observed.startswith("name under type, payment at data.payment")


def test_an_event_name_under_no_key_the_package_reads_is_reported():
    body = {"event": "payment.purchase", "data": {"payment": {"order_id": ORDER, "payment_id": "pay_1"}}}

    row = _envelope_row([delivery(body, **SIGNED)])

    assert row.verdict is Verdict.MISMATCH
    assert row.observed.startswith("name under event, payment at data.payment (1 of 1 not readable")


def test_the_2024_envelopes_are_read():
    july = {"event_type": "order.update", "data": {"order_id": ORDER, "status": "COMPLETED"}}
    november = {"type_event": "payment.purchase", "type": "payment", "data": {"order_id": ORDER}}

    assert _envelope_row([delivery(july), delivery(november)]).verdict is Verdict.MATCH


def test_deliveries_without_a_full_set_of_signature_headers():
    standard = {"webhook_id": "msg_2", "webhook_timestamp": "1700000000", "webhook_signature": "v1,abc="}
    rows = [delivery({}, **SIGNED), delivery({}, **standard), delivery({}, svix_id="msg_3")]

    row = _headers_row(rows)

    assert row.verdict is Verdict.MISMATCH
    assert row.observed.endswith("(1 of 3 deliveries without a complete set)")
    assert row.evidence["families"] == ["", "svix", "webhook"]
    assert row.evidence["shapes"] == {  # never a signature
        "svix-id": "msg_<32 hex>",
        "svix-timestamp": "<10 digits>",
        "webhook-id": "<5 chars>",
        "webhook-timestamp": "<10 digits>",
    }
