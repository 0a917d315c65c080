"""Refund availability (services.refund_availability): the portal's AVAILABLE_REFUND_BY_ECOMMERCE setting, read as
OrkestaPay's WordPress plugin reads it before every refund; ``false`` stops a refund before anything is recorded or
sent, an answer that cannot be read never does."""

from __future__ import annotations

from decimal import Decimal
from typing import Any

import pytest
import responses
from django.core.cache import caches
from django.urls import reverse

from django_orkestapay import services
from django_orkestapay.client import REFUND_SETTING, OrkestaPayClient
from django_orkestapay.exceptions import (
    APIConnectionError,
    InvalidRequestError,
    RefundNotAllowedError,
    RefundsUnavailableError,
)
from django_orkestapay.models import Order, OrderStatus, Refund, RefundStatus
from django_orkestapay.services.refund_availability import availability_cache_key
from tests.conftest import make_paid_order

pytestmark = pytest.mark.django_db(transaction=True)

SETTINGS_PATH = "/v1/merchants/settings"
AVAILABLE, UNAVAILABLE, UNKNOWN = (
    services.RefundAvailability.AVAILABLE,
    services.RefundAvailability.UNAVAILABLE,
    services.RefundAvailability.UNKNOWN,
)


@pytest.fixture
def paid(orkestapay_settings, fake_orkestapay) -> Order:
    return make_paid_order(fake_orkestapay)


def asked(fake: Any) -> int:
    return int(fake.count_requests("GET", SETTINGS_PATH))


def refund_calls(fake: Any) -> int:
    return sum(1 for r in fake.request_log if r.method == "POST" and r.path.endswith("/refund"))


def test_the_setting_is_read_as_the_wordpress_plugin_reads_it(orkestapay_settings, fake_orkestapay):
    assert services.refund_availability() == AVAILABLE
    [request] = [r for r in fake_orkestapay.request_log if r.path == SETTINGS_PATH]
    assert request.query == {"id": REFUND_SETTING}

    fake_orkestapay.refunds_enabled = False
    assert services.refund_availability() == AVAILABLE  # kept for a minute...
    assert services.refund_availability(refresh=True) == UNAVAILABLE  # ...unless asked again
    assert asked(fake_orkestapay) == 2


def test_refunds_off_refuses_before_anything_is_recorded_or_sent(paid, fake_orkestapay):
    fake_orkestapay.refunds_enabled = False
    payment = paid.payments.get()

    for refund in (lambda: services.refund_order(paid), lambda: services.refund_payment(payment)):
        with pytest.raises(RefundsUnavailableError, match="AVAILABLE_REFUND_BY_ECOMMERCE") as caught:
            refund()
        assert isinstance(caught.value, RefundNotAllowedError)  # what callers already catch
    summary = services.refund_orders([paid])
    assert (summary.succeeded, summary.failed) == (0, 1)

    assert Refund.objects.count() == 0
    assert refund_calls(fake_orkestapay) == 0
    paid.refresh_from_db()
    assert (paid.status, paid.last_error) == (OrderStatus.PAID, "")
    assert services.refundable_amount(paid) == Decimal("990.00")


def test_refunds_work_again_as_soon_as_the_portal_turns_them_back_on(paid, fake_orkestapay):
    fake_orkestapay.refunds_enabled = False
    with pytest.raises(RefundsUnavailableError):
        services.refund_order(paid)
    fake_orkestapay.refunds_enabled = True  # "unavailable" is never kept

    assert services.refund_order(paid).status == RefundStatus.SUCCEEDED
    assert asked(fake_orkestapay) == 2


def test_available_is_asked_once_for_several_refunds(paid, fake_orkestapay):
    services.refund_order(paid, amount=Decimal("90"))
    services.refund_order(paid, amount=Decimal("10"))

    assert asked(fake_orkestapay) == 1
    assert refund_calls(fake_orkestapay) == 2


@pytest.mark.parametrize(
    "fault", [{"kind": "status", "status": 500}, {"kind": "status", "status": 404}, {"kind": "malformed_json"}]
)
def test_an_answer_that_cannot_be_read_lets_the_refund_go_to_the_api(paid, fake_orkestapay, fault):
    fake_orkestapay.inject_fault("GET", SETTINGS_PATH, **fault)

    assert services.refund_order(paid).status == RefundStatus.SUCCEEDED
    assert refund_calls(fake_orkestapay) == 1
    assert services.refund_availability() == UNKNOWN  # kept: a batch does not wait on a broken endpoint each time
    assert asked(fake_orkestapay) == 1


def test_an_unknown_answer_still_lets_the_api_refuse(paid, fake_orkestapay):
    fake_orkestapay.inject_fault("GET", SETTINGS_PATH, "status", status=503)
    fake_orkestapay.refunds_enabled = False  # the settings endpoint failed, so the refund is sent, and refused

    with pytest.raises(InvalidRequestError):  # the API's own refusal, as before
        services.refund_order(paid)
    assert Refund.objects.get().status == RefundStatus.FAILED
    assert refund_calls(fake_orkestapay) == 1


def test_a_broken_cache_never_blocks_a_refund(paid, fake_orkestapay, monkeypatch):
    cache = caches["default"]
    get, set_ = cache.get, cache.set

    def broken(real: Any) -> Any:
        def call(key: str, *args: Any, **kwargs: Any) -> Any:
            if key == availability_cache_key():  # the token keeps its own (working) cache entry
                raise ConnectionError("redis is down")
            return real(key, *args, **kwargs)

        return call

    monkeypatch.setattr(cache, "get", broken(get))
    monkeypatch.setattr(cache, "set", broken(set_))

    assert services.refund_availability() == AVAILABLE
    assert services.refund_order(paid).status == RefundStatus.SUCCEEDED


def test_the_answer_is_kept_per_api_and_client_id(orkestapay_settings, settings):
    mine = availability_cache_key()
    settings.ORKESTAPAY = {**orkestapay_settings, "CLIENT_ID": "another-shop"}

    assert availability_cache_key() != mine
    assert orkestapay_settings["CLIENT_SECRET"] not in mine


@pytest.mark.usefixtures("trusted_idempotency_keys")  # resent under its key once refunds are on
def test_a_resend_is_not_sent_while_refunds_are_off(paid, fake_orkestapay):
    fake_orkestapay.inject_fault("POST", "/v1/payments/*/refund", "timeout", after_processing=False)
    with pytest.raises(APIConnectionError):
        services.refund_order(paid)
    refund = Refund.objects.get()
    assert refund.status == RefundStatus.REQUESTED
    fake_orkestapay.refunds_enabled = False
    caches["default"].delete(availability_cache_key())  # the minute passed

    with pytest.raises(RefundsUnavailableError):
        services.retry_refund(refund)
    summary = services.reconcile_refunds([refund])
    assert summary.failed == 1
    refund.refresh_from_db()
    assert (refund.status, refund.attempts) == (RefundStatus.REQUESTED, 1)  # as it was: resent once they are on
    assert refund_calls(fake_orkestapay) == 1

    fake_orkestapay.refunds_enabled = True
    assert services.retry_refund(refund).status == RefundStatus.SUCCEEDED


# -- the admin's confirmation page ---------------------------------------------------------------------------------


@pytest.fixture
def staff_client(client, django_user_model):
    user = django_user_model.objects.create_superuser("ops", "ops@example.com", "pw")
    client.force_login(user)
    client.defaults["HTTP_ACCEPT_LANGUAGE"] = "en"
    return client


def confirmation_page(staff_client, order: Order) -> str:
    response = staff_client.post(
        reverse("admin:orkestapay_order_changelist"), {"action": "refund", "_selected_action": [str(order.pk)]}
    )
    assert response.status_code == 200
    return str(response.content.decode())


def test_the_confirmation_page_says_plainly_when_refunds_are_off(staff_client, paid, fake_orkestapay):
    assert 'data-testid="orkestapay-refunds-off"' not in confirmation_page(staff_client, paid)

    fake_orkestapay.refunds_enabled = False
    caches["default"].delete(availability_cache_key())
    page = confirmation_page(staff_client, paid)

    assert 'data-testid="orkestapay-refunds-off"' in page
    assert "Refunds are turned off in your OrkestaPay portal" in page
    assert Refund.objects.count() == 0


def test_the_confirmation_page_says_nothing_when_the_setting_cannot_be_read(staff_client, paid, fake_orkestapay):
    fake_orkestapay.inject_fault("GET", SETTINGS_PATH, "status", status=500)

    assert 'data-testid="orkestapay-refunds-off"' not in confirmation_page(staff_client, paid)


# -- the client call -----------------------------------------------------------------------------------------------

BASE = "https://api.sand.orkestapay.com"


@pytest.fixture
def client_with_token():
    with responses.RequestsMock() as mocked:
        mocked.post(f"{BASE}/v1/oauth/tokens", json={"access_token": "t", "token_type": "Bearer", "expires_in": 1800})
        yield OrkestaPayClient(client_id="id", client_secret="secret", base_url=BASE, max_retries=0), mocked


@pytest.mark.parametrize(
    ("body", "expected"),
    [
        ({"custom_settings": {REFUND_SETTING: True}}, True),
        ({"custom_settings": {REFUND_SETTING: False}}, False),
        ({"custom_settings": {REFUND_SETTING: "true"}}, None),  # the plugin compares with === true
        ({"custom_settings": {}}, None),
        ({"custom_settings": None}, None),
        ({}, None),
    ],
)
def test_refunds_available_reads_only_a_json_boolean(client_with_token, body, expected):
    client, mocked = client_with_token
    mocked.get(f"{BASE}{SETTINGS_PATH}", json=body)

    assert client.refunds_available() is expected
    assert mocked.calls[-1].request.url == f"{BASE}{SETTINGS_PATH}?id={REFUND_SETTING}"
    assert mocked.calls[-1].request.headers["Authorization"] == "Bearer t"
