"""Tests of django_orkestapay.client: HTTP is mocked with ``responses``; no Django needed."""

from __future__ import annotations

import json
import logging
import pickle
import subprocess
import sys
from collections.abc import Iterator
from datetime import UTC, datetime
from decimal import Decimal
from typing import Any

import pytest
import requests
import responses

from django_orkestapay import __version__
from django_orkestapay.client import (
    PRODUCTION_BASE_URL,
    SANDBOX_BASE_URL,
    AccessToken,
    CheckoutResult,
    InMemoryTokenCache,
    OrkestaPayClient,
    RemoteOrder,
)
from django_orkestapay.exceptions import (
    APIConnectionError,
    APIError,
    APITimeoutError,
    AuthenticationError,
    InvalidRequestError,
    MalformedResponseError,
    NotFoundError,
    OrkestaPayError,
    RateLimitError,
    ServerError,
)

CLIENT_ID = "508781708c79911952ddbeafdf3963f571b3cc18c19bcdcf"
CLIENT_SECRET = "sk-TEST-very-secret-value-7d1f0a9c"
ACCESS_TOKEN = "eyJhbGciOiJSUzI1NiJ9.eyJzdWIiOiJmaXJzdCJ9.c2lnbmF0dXJlLWZpcnN0"
SECOND_TOKEN = "eyJhbGciOiJSUzI1NiJ9.eyJzdWIiOiJzZWNvbmQifQ.c2lnbmF0dXJlLXNlY29uZA"

TOKEN_URL = f"{SANDBOX_BASE_URL}/v1/oauth/tokens"
CHECKOUTS_URL = f"{SANDBOX_BASE_URL}/v1/checkouts"
ORDER_ID = "ord_a73c91e6f6f949a3a39c9557f353d308"
ORDER_URL = f"{SANDBOX_BASE_URL}/v1/orders/{ORDER_ID}"
PAYMENT_ID = "pay_0b5e0e5b6a1d4b6c9f1c2d3e4f5a6b7c"
REFUND_URL = f"{SANDBOX_BASE_URL}/v1/payments/{PAYMENT_ID}/refund"

# The request body of the checkout guide's "Register checkout" curl, as JSON (the e-mail placeholder is ours: the
# stored copy of the guide has it mangled by an e-mail obfuscator).
GUIDE_CHECKOUT_BODY = """
{
    "completed_redirect_url": "REPLACE_WITH_YOUR_SUCCESS_URL",
    "canceled_redirect_url": "REPLACE_WITH_YOUR_CANCEL_URL",
    "allow_save_payment_methods": false,
    "locale": "ES_LATAM",
    "order": {
        "merchant_order_id": "1366656595193",
        "currency": "MXN",
        "subtotal_amount": 1000,
        "country_code": "MX",
        "discounts": [{"amount": 10}],
        "total_amount": 990,
        "products": [
            {"id": "7197", "name": "Pantalla TCL Smart TV Serie A3 A343 HD Android TV 40", "quantity": 1,
             "unit_price": 1000}
        ],
        "customer": {"first_name": "John", "last_name": "Doe", "email": "john.doe@example.com"}
    }
}
"""

# The guide's "Service response" to the checkout request.
GUIDE_CHECKOUT_RESPONSE = """
{
  "checkout_id": "chk_e69283cb55814402b9372a2f834cc8a8",
  "checkout_redirect_url": "https://checkout.dev.orkesta.io/#/checkout/chk_e69283cb55814402b9372a2f834cc8a8/6f2d8077c669f0512cb655c1f2d19b3cc020f5fd8b17152e0d3de675575e8f69",
  "completed_redirect_url": "https://example.com/complete",
  "canceled_redirect_url": "https://example.com/cancel",
  "allow_save_payment_methods": false,
  "locale": "ES_LATAM",
  "placed_at": "1713480514319",
  "order": {
    "order_id": "ord_a73c91e6f6f949a3a39c9557f353d308",
    "status": "CREATED",
    "expires_at": "1713566914212",
    "merchant_order_id": "1366656595193",
    "country": "México",
    "country_code": "MX",
    "currency": "MXN",
    "taxes": [],
    "discounts": [{"amount": 10}],
    "subtotal_amount": 1000,
    "total_amount": 990,
    "products": [
      {"product_id": "7197", "quantity": 1, "unit_price": 1000,
       "name": "Pantalla TCL Smart TV Serie A3 A343 HD Android TV 40"}
    ],
    "customer": {
      "customer_id": "cus_414bae1120844159bf10f1d6c7b30d74",
      "first_name": "John",
      "last_name": "Doe",
      "email": "john.doe@example.com",
      "created_at": "1713480514197",
      "updated_at": "1713480514197"
    },
    "placed_at": "1713480514267",
    "metadata": {}
  }
}
"""

GUIDE_CHECKOUT_URL = (
    "https://checkout.dev.orkesta.io/#/checkout/chk_e69283cb55814402b9372a2f834cc8a8/"
    "6f2d8077c669f0512cb655c1f2d19b3cc020f5fd8b17152e0d3de675575e8f69"
)
GUIDE_EXPIRES_AT = datetime(2024, 4, 19, 22, 48, 34, 212000, tzinfo=UTC)

HTML_BODY = (
    "<html><head><title>502 Bad Gateway</title></head><body>" + "<p>upstream went away</p>" * 40 + "</body></html>"
)


def seed_payload() -> dict[str, Any]:
    """The guide's checkout body, with its amounts as Decimals as the service layer builds them."""
    payload: dict[str, Any] = json.loads(GUIDE_CHECKOUT_BODY)
    order = payload["order"]
    order["subtotal_amount"] = Decimal("1000.00")
    order["total_amount"] = Decimal("990")
    order["discounts"][0]["amount"] = Decimal("10.00")
    order["products"][0]["unit_price"] = Decimal("1000")
    return payload


def token_body(access_token: str = ACCESS_TOKEN, expires_in: Any = 1800) -> dict[str, Any]:
    return {"token_type": "Bearer", "expires_in": expires_in, "access_token": access_token}


def order_body(**overrides: Any) -> dict[str, Any]:
    body: dict[str, Any] = {
        "order_id": ORDER_ID,
        "merchant_order_id": "1366656595193",
        "status": "COMPLETED",
        "currency": "MXN",
        "subtotal_amount": 1000,
        "total_amount": 990,
        "expires_at": "1713566914212",
    }
    body.update(overrides)
    return body


class FakeClock:
    def __init__(self, now: float = 1_700_000_000.0) -> None:
        self.now = now

    def __call__(self) -> float:
        return self.now


class Sleeps(list[float]):
    def __call__(self, seconds: float) -> None:
        self.append(seconds)


@pytest.fixture
def rsps() -> Iterator[responses.RequestsMock]:
    with responses.RequestsMock(assert_all_requests_are_fired=False) as mock:
        yield mock


@pytest.fixture
def clock() -> FakeClock:
    return FakeClock()


@pytest.fixture
def sleeps() -> Sleeps:
    return Sleeps()


@pytest.fixture
def client(clock: FakeClock, sleeps: Sleeps) -> Iterator[OrkestaPayClient]:
    with OrkestaPayClient(client_id=CLIENT_ID, client_secret=CLIENT_SECRET, clock=clock, sleep=sleeps) as c:
        yield c


def add_token(rsps: responses.RequestsMock, access_token: str = ACCESS_TOKEN, **kwargs: Any) -> None:
    rsps.add(responses.POST, TOKEN_URL, json=token_body(access_token, **kwargs))


def sent_body(request: Any) -> bytes:
    """The raw bytes a recorded request sent (the client always sends bytes)."""
    body = request.body
    assert isinstance(body, bytes)
    return body


def calls_to(rsps: responses.RequestsMock, url: str) -> list[Any]:
    return [call for call in rsps.calls if call.request.url == url]


# ------------------------------------------------------------------------------------------------------------------
# Requests as documented in the guide
# ------------------------------------------------------------------------------------------------------------------


def test_token_request_matches_the_guide(
    rsps: responses.RequestsMock, client: OrkestaPayClient, clock: FakeClock
) -> None:
    add_token(rsps)

    token = client.get_access_token()

    assert len(rsps.calls) == 1
    request = rsps.calls[0].request
    assert request.method == "POST"
    assert request.url == "https://api.sand.orkestapay.com/v1/oauth/tokens"
    assert request.headers["Accept"] == "application/json"
    assert request.headers["Content-Type"] == "application/json"
    assert request.headers["User-Agent"] == f"django-orkestapay/{__version__}"
    assert "Authorization" not in request.headers
    assert json.loads(sent_body(request)) == {
        "client_id": CLIENT_ID,
        "client_secret": CLIENT_SECRET,
        "grant_type": "client_credentials",
    }
    assert token == AccessToken(access_token=ACCESS_TOKEN, token_type="Bearer", expires_at=clock.now + 1800)


def test_checkout_request_matches_the_guide_and_response_parses(
    rsps: responses.RequestsMock, client: OrkestaPayClient
) -> None:
    add_token(rsps)
    rsps.add(responses.POST, CHECKOUTS_URL, body=GUIDE_CHECKOUT_RESPONSE, content_type="application/json")

    result = client.create_checkout(seed_payload())

    assert [call.request.url for call in rsps.calls] == [TOKEN_URL, "https://api.sand.orkestapay.com/v1/checkouts"]
    request = rsps.calls[1].request
    assert request.method == "POST"
    assert request.headers["Accept"] == "application/json"
    assert request.headers["Content-Type"] == "application/json"
    assert request.headers["Authorization"] == f"Bearer {ACCESS_TOKEN}"
    assert request.headers["User-Agent"] == f"django-orkestapay/{__version__}"
    sent = json.loads(sent_body(request))
    assert sent == json.loads(GUIDE_CHECKOUT_BODY)
    # Integral Decimals go out as JSON integers, exactly like the guide's 1000 / 10 / 990.
    assert b'"total_amount":990,' in sent_body(request)
    assert b'"subtotal_amount":1000,' in sent_body(request)
    assert b'"amount":10}' in sent_body(request)
    assert isinstance(sent["order"]["total_amount"], int)

    assert isinstance(result, CheckoutResult)
    assert result.checkout_id == "chk_e69283cb55814402b9372a2f834cc8a8"
    assert result.redirect_url == GUIDE_CHECKOUT_URL
    assert result.order_id == "ord_a73c91e6f6f949a3a39c9557f353d308"
    assert result.order_status == "CREATED"
    assert result.expires_at == GUIDE_EXPIRES_AT
    assert result.expires_at is not None
    assert result.expires_at.utcoffset() is not None
    assert result.raw["order"]["customer"]["customer_id"] == "cus_414bae1120844159bf10f1d6c7b30d74"
    assert result.raw["order"]["total_amount"] == Decimal("990")


def test_fractional_decimal_amounts_are_sent_as_json_numbers(
    rsps: responses.RequestsMock, client: OrkestaPayClient
) -> None:
    add_token(rsps)
    rsps.add(responses.POST, CHECKOUTS_URL, body=GUIDE_CHECKOUT_RESPONSE, content_type="application/json")
    payload = seed_payload()
    payload["order"]["total_amount"] = Decimal("400.55")
    payload["order"]["subtotal_amount"] = Decimal("0.10")

    client.create_checkout(payload)

    body = sent_body(rsps.calls[1].request)
    assert b'"total_amount":400.55,' in body
    assert b'"subtotal_amount":0.1,' in body
    # The caller's payload is not modified.
    assert payload["order"]["total_amount"] == Decimal("400.55")


def test_non_finite_amount_is_refused_before_any_request(
    rsps: responses.RequestsMock, client: OrkestaPayClient
) -> None:
    payload = seed_payload()
    payload["order"]["total_amount"] = Decimal("NaN")

    with pytest.raises(ValueError, match="non-finite"):
        client.create_checkout(payload)
    assert len(rsps.calls) == 0


def test_every_call_uses_the_timeouts_and_one_session(rsps: responses.RequestsMock, clock: FakeClock) -> None:
    seen: list[dict[str, Any]] = []

    class RecordingSession(requests.Session):
        def request(self, method: str | bytes, url: str | bytes, *args: Any, **kwargs: Any) -> requests.Response:
            seen.append({"method": method, "url": url, **kwargs})
            return super().request(method, url, *args, **kwargs)

    add_token(rsps)
    rsps.add(responses.GET, ORDER_URL, json=order_body())
    rsps.add(responses.POST, CHECKOUTS_URL, body=GUIDE_CHECKOUT_RESPONSE, content_type="application/json")
    session = RecordingSession()
    client = OrkestaPayClient(
        client_id=CLIENT_ID,
        client_secret=CLIENT_SECRET,
        base_url=SANDBOX_BASE_URL + "/",
        connect_timeout=3.5,
        read_timeout=12.0,
        session=session,
        clock=clock,
        user_agent="my-shop/2.0",
    )

    client.get_order(ORDER_ID)
    client.create_checkout(seed_payload())

    assert [entry["timeout"] for entry in seen] == [(3.5, 12.0)] * 3
    assert all(entry["allow_redirects"] is False for entry in seen)
    assert [entry["url"] for entry in seen] == [TOKEN_URL, ORDER_URL, CHECKOUTS_URL]
    get_request = rsps.calls[1].request
    assert "Content-Type" not in get_request.headers
    assert get_request.headers["User-Agent"] == "my-shop/2.0"
    client.close()


def test_base_url_is_validated() -> None:
    with pytest.raises(ValueError, match="base_url"):
        OrkestaPayClient(client_id=CLIENT_ID, client_secret=CLIENT_SECRET, base_url="api.orkestapay.com")
    with pytest.raises(ValueError, match="client_secret"):
        OrkestaPayClient(client_id=CLIENT_ID, client_secret="", base_url=PRODUCTION_BASE_URL)


# ------------------------------------------------------------------------------------------------------------------
# Token caching
# ------------------------------------------------------------------------------------------------------------------


def test_fifty_checkouts_cost_one_token_request(rsps: responses.RequestsMock, client: OrkestaPayClient) -> None:
    add_token(rsps)
    rsps.add(responses.POST, CHECKOUTS_URL, body=GUIDE_CHECKOUT_RESPONSE, content_type="application/json")

    for _ in range(50):
        client.create_checkout(seed_payload())

    assert len(calls_to(rsps, TOKEN_URL)) == 1
    assert len(calls_to(rsps, CHECKOUTS_URL)) == 50


def test_token_is_refreshed_leeway_seconds_before_expiry(
    rsps: responses.RequestsMock, clock: FakeClock, sleeps: Sleeps
) -> None:
    add_token(rsps, ACCESS_TOKEN)
    add_token(rsps, SECOND_TOKEN)
    client = OrkestaPayClient(
        client_id=CLIENT_ID, client_secret=CLIENT_SECRET, token_leeway=60, clock=clock, sleep=sleeps
    )
    start = clock.now

    assert client.get_access_token().access_token == ACCESS_TOKEN
    clock.now = start + 1800 - 60 - 0.5
    assert client.get_access_token().access_token == ACCESS_TOKEN
    assert len(rsps.calls) == 1
    clock.now = start + 1800 - 60
    assert client.get_access_token().access_token == SECOND_TOKEN
    assert len(rsps.calls) == 2


def test_force_refresh_fetches_a_new_token(rsps: responses.RequestsMock, client: OrkestaPayClient) -> None:
    add_token(rsps, ACCESS_TOKEN)
    add_token(rsps, SECOND_TOKEN)

    client.get_access_token()
    assert client.get_access_token(force_refresh=True).access_token == SECOND_TOKEN
    assert client.get_access_token().access_token == SECOND_TOKEN
    assert len(rsps.calls) == 2


def test_two_clients_sharing_a_cache_share_one_token(
    rsps: responses.RequestsMock, clock: FakeClock, sleeps: Sleeps
) -> None:
    add_token(rsps)
    rsps.add(responses.GET, ORDER_URL, json=order_body())
    cache = InMemoryTokenCache(clock=clock)
    first = OrkestaPayClient(client_id=CLIENT_ID, client_secret=CLIENT_SECRET, token_cache=cache, clock=clock)
    second = OrkestaPayClient(client_id=CLIENT_ID, client_secret=CLIENT_SECRET, token_cache=cache, clock=clock)

    first.get_order(ORDER_ID)
    second.get_order(ORDER_ID)

    assert len(calls_to(rsps, TOKEN_URL)) == 1
    assert rsps.calls[-1].request.headers["Authorization"] == f"Bearer {ACCESS_TOKEN}"


def test_cache_key_depends_on_environment_and_credentials_and_hides_the_secret() -> None:
    def key(**kwargs: Any) -> str:
        options: dict[str, Any] = {"client_id": CLIENT_ID, "client_secret": CLIENT_SECRET}
        options.update(kwargs)
        return OrkestaPayClient(**options).token_cache_key

    base = key()
    assert base.startswith("orkestapay:token:")
    assert key() == base
    assert key(base_url=SANDBOX_BASE_URL + "/") == base
    assert key(base_url=PRODUCTION_BASE_URL) != base
    assert key(client_id="another-client") != base
    assert key(client_secret="another-secret") != base
    assert CLIENT_SECRET not in base
    assert CLIENT_ID not in base


def test_cached_value_is_a_picklable_dict_without_the_secret_and_timeout_honours_leeway(
    rsps: responses.RequestsMock, clock: FakeClock
) -> None:
    stored: list[tuple[str, Any, float | None]] = []

    class RecordingCache(InMemoryTokenCache):
        def set(self, key: str, value: Any, timeout: float | None = None) -> None:
            stored.append((key, value, timeout))
            super().set(key, value, timeout)

    add_token(rsps)
    client = OrkestaPayClient(
        client_id=CLIENT_ID, client_secret=CLIENT_SECRET, token_cache=RecordingCache(clock=clock), clock=clock
    )

    client.get_access_token()

    assert len(stored) == 1
    key, value, timeout = stored[0]
    assert key == client.token_cache_key
    assert type(value) is dict
    assert value == {"access_token": ACCESS_TOKEN, "token_type": "Bearer", "expires_at": clock.now + 1800}
    assert pickle.loads(pickle.dumps(value)) == value  # noqa: S301 - Django's cache pickles values
    assert CLIENT_SECRET not in repr(value)
    assert timeout == 1800 - 60


def test_token_response_without_access_token_is_malformed(
    rsps: responses.RequestsMock, client: OrkestaPayClient
) -> None:
    rsps.add(responses.POST, TOKEN_URL, json={"token_type": "Bearer", "expires_in": 1800})

    with pytest.raises(MalformedResponseError) as info:
        client.get_access_token()
    assert info.value.status_code == 200
    assert info.value.path == "/v1/oauth/tokens"


@pytest.mark.parametrize("expires_in", ["soon", None, True, [1800], -5])
def test_token_response_with_unusable_expires_in_is_malformed(
    rsps: responses.RequestsMock, client: OrkestaPayClient, expires_in: Any
) -> None:
    rsps.add(responses.POST, TOKEN_URL, json=token_body(expires_in=expires_in))

    with pytest.raises(MalformedResponseError) as info:
        client.get_access_token()
    assert ACCESS_TOKEN not in repr(info.value.response_body)


# ------------------------------------------------------------------------------------------------------------------
# 401 handling
# ------------------------------------------------------------------------------------------------------------------


def test_401_refreshes_the_token_once_and_succeeds(rsps: responses.RequestsMock, client: OrkestaPayClient) -> None:
    add_token(rsps, ACCESS_TOKEN)
    add_token(rsps, SECOND_TOKEN)
    rsps.add(responses.GET, ORDER_URL, json={"message": "token expired"}, status=401)
    rsps.add(responses.GET, ORDER_URL, json=order_body())

    order = client.get_order(ORDER_ID)

    assert order.order_id == ORDER_ID
    assert [call.request.url for call in rsps.calls] == [TOKEN_URL, ORDER_URL, TOKEN_URL, ORDER_URL]
    assert rsps.calls[1].request.headers["Authorization"] == f"Bearer {ACCESS_TOKEN}"
    assert rsps.calls[3].request.headers["Authorization"] == f"Bearer {SECOND_TOKEN}"
    # The new token is the cached one from now on.
    client.get_order(ORDER_ID)
    assert len(calls_to(rsps, TOKEN_URL)) == 2
    assert rsps.calls[-1].request.headers["Authorization"] == f"Bearer {SECOND_TOKEN}"


def test_401_on_checkout_is_resent_once_with_a_new_token(
    rsps: responses.RequestsMock, client: OrkestaPayClient
) -> None:
    add_token(rsps, ACCESS_TOKEN)
    add_token(rsps, SECOND_TOKEN)
    rsps.add(responses.POST, CHECKOUTS_URL, json={"message": "invalid token"}, status=401)
    rsps.add(responses.POST, CHECKOUTS_URL, body=GUIDE_CHECKOUT_RESPONSE, content_type="application/json")

    result = client.create_checkout(seed_payload())

    assert result.checkout_id == "chk_e69283cb55814402b9372a2f834cc8a8"
    assert len(calls_to(rsps, CHECKOUTS_URL)) == 2


def test_401_twice_raises_authentication_error(rsps: responses.RequestsMock, client: OrkestaPayClient) -> None:
    add_token(rsps, ACCESS_TOKEN)
    add_token(rsps, SECOND_TOKEN)
    rsps.add(responses.GET, ORDER_URL, json={"message": "token expired"}, status=401)

    with pytest.raises(AuthenticationError) as info:
        client.get_order(ORDER_ID)

    assert [call.request.url for call in rsps.calls] == [TOKEN_URL, ORDER_URL, TOKEN_URL, ORDER_URL]
    assert info.value.status_code == 401
    assert info.value.message == "token expired"
    assert info.value.path == f"/v1/orders/{ORDER_ID}"


def test_401_on_the_token_call_raises_after_one_request(rsps: responses.RequestsMock, client: OrkestaPayClient) -> None:
    rsps.add(responses.POST, TOKEN_URL, json={"message": "Invalid client credentials"}, status=401)

    with pytest.raises(AuthenticationError) as info:
        client.get_order(ORDER_ID)

    assert len(rsps.calls) == 1
    assert info.value.message == "Invalid client credentials"
    assert info.value.method == "POST"
    assert info.value.path == "/v1/oauth/tokens"


def test_403_is_not_retried_with_a_new_token(rsps: responses.RequestsMock, client: OrkestaPayClient) -> None:
    add_token(rsps)
    rsps.add(responses.GET, ORDER_URL, json={"message": "forbidden"}, status=403)

    with pytest.raises(AuthenticationError) as info:
        client.get_order(ORDER_ID)

    assert info.value.status_code == 403
    assert len(rsps.calls) == 2


# ------------------------------------------------------------------------------------------------------------------
# Error mapping
# ------------------------------------------------------------------------------------------------------------------


def test_400_with_validation_errors(rsps: responses.RequestsMock, client: OrkestaPayClient) -> None:
    add_token(rsps)
    rsps.add(
        responses.POST,
        CHECKOUTS_URL,
        status=400,
        json={
            "request_id": "req_123abc",
            "category": "REQUEST_VALIDATION",
            "message": "La fecha de vencimiento de la orden no es válida",
            "validation_errors": [
                {"field": "order.expires_at", "message": "must be in the future"},
                {"field": "order.total_amount", "message": "must be positive"},
            ],
        },
    )

    with pytest.raises(InvalidRequestError) as info:
        client.create_checkout(seed_payload())

    error = info.value
    assert error.status_code == 400
    assert error.method == "POST"
    assert error.path == "/v1/checkouts"
    assert error.request_id == "req_123abc"
    assert error.category == "REQUEST_VALIDATION"
    assert error.message == "La fecha de vencimiento de la orden no es válida"
    assert [e["field"] for e in error.validation_errors] == ["order.expires_at", "order.total_amount"]
    text = str(error)
    assert "order.expires_at: must be in the future" in text
    assert "order.total_amount: must be positive" in text
    assert "req_123abc" in text
    assert "HTTP 400" in text
    assert len(calls_to(rsps, CHECKOUTS_URL)) == 1


@pytest.mark.parametrize(
    ("status", "error_class"),
    [
        (404, NotFoundError),
        (409, InvalidRequestError),
        (422, InvalidRequestError),
        (418, APIError),
        (302, APIError),
    ],
)
def test_status_codes_map_to_exceptions(
    rsps: responses.RequestsMock, client: OrkestaPayClient, status: int, error_class: type[APIError]
) -> None:
    add_token(rsps)
    headers = {"Location": "https://elsewhere.example/"} if status == 302 else None
    rsps.add(responses.GET, ORDER_URL, status=status, json={"message": f"status {status}"}, headers=headers)

    with pytest.raises(error_class) as info:
        client.get_order(ORDER_ID)

    assert type(info.value) is error_class
    assert info.value.status_code == status
    assert info.value.message == f"status {status}"
    assert info.value.method == "GET"
    assert info.value.path == f"/v1/orders/{ORDER_ID}"
    assert len(calls_to(rsps, ORDER_URL)) == 1


def test_429_is_a_rate_limit_error(rsps: responses.RequestsMock, client: OrkestaPayClient) -> None:
    add_token(rsps)
    rsps.add(responses.POST, CHECKOUTS_URL, status=429, json={"message": "slow down"})

    with pytest.raises(RateLimitError) as info:
        client.create_checkout(seed_payload())

    assert info.value.status_code == 429
    assert info.value.retryable


@pytest.mark.parametrize("status", [500, 502, 503])
def test_5xx_with_html_body_is_a_server_error(
    rsps: responses.RequestsMock, client: OrkestaPayClient, status: int
) -> None:
    add_token(rsps)
    rsps.add(responses.POST, CHECKOUTS_URL, status=status, body=HTML_BODY, content_type="text/html")

    with pytest.raises(ServerError) as info:
        client.create_checkout(seed_payload())

    error = info.value
    assert error.status_code == status
    assert error.message == ServerError.default_message
    assert error.response_body == HTML_BODY[:300]
    assert error.path == "/v1/checkouts"


def test_timeout_is_an_api_timeout_error(rsps: responses.RequestsMock, client: OrkestaPayClient) -> None:
    add_token(rsps)
    rsps.add(responses.POST, CHECKOUTS_URL, body=requests.exceptions.ReadTimeout("read timed out"))

    with pytest.raises(APITimeoutError) as info:
        client.create_checkout(seed_payload())

    assert info.value.status_code is None
    assert info.value.method == "POST"
    assert info.value.path == "/v1/checkouts"
    assert isinstance(info.value.__cause__, requests.exceptions.ReadTimeout)


def test_connection_refused_is_an_api_connection_error(rsps: responses.RequestsMock, client: OrkestaPayClient) -> None:
    rsps.add(responses.POST, TOKEN_URL, body=requests.exceptions.ConnectionError("[Errno 111] Connection refused"))

    with pytest.raises(APIConnectionError) as info:
        client.get_access_token()

    assert type(info.value) is APIConnectionError
    assert info.value.path == "/v1/oauth/tokens"


@pytest.mark.parametrize(
    "body",
    [
        pytest.param("this is not json", id="not-json"),
        pytest.param('{"checkout_id": "chk_1", "checkout_redirect_url": "https://chec', id="truncated"),
        pytest.param('[{"checkout_id": "chk_1"}]', id="array"),
        pytest.param("", id="empty"),
        pytest.param('{"checkout_id": NaN}', id="nan"),
    ],
)
def test_unparseable_2xx_body_is_malformed(rsps: responses.RequestsMock, client: OrkestaPayClient, body: str) -> None:
    add_token(rsps)
    rsps.add(responses.POST, CHECKOUTS_URL, status=200, body=body, content_type="application/json")

    with pytest.raises(MalformedResponseError) as info:
        client.create_checkout(seed_payload())

    assert info.value.status_code == 200
    assert info.value.method == "POST"
    assert info.value.path == "/v1/checkouts"
    assert len(calls_to(rsps, CHECKOUTS_URL)) == 1


@pytest.mark.parametrize(
    "mutate",
    [
        pytest.param(lambda body: body.pop("checkout_id"), id="no-checkout_id"),
        pytest.param(lambda body: body.pop("checkout_redirect_url"), id="no-redirect"),
        pytest.param(lambda body: body.update(checkout_redirect_url="javascript:alert(1)"), id="bad-redirect"),
        pytest.param(lambda body: body["order"].pop("order_id"), id="no-order_id"),
        pytest.param(lambda body: body.pop("order"), id="no-order"),
    ],
)
def test_2xx_checkout_missing_required_fields_is_malformed(
    rsps: responses.RequestsMock, client: OrkestaPayClient, mutate: Any
) -> None:
    body = json.loads(GUIDE_CHECKOUT_RESPONSE)
    mutate(body)
    add_token(rsps)
    rsps.add(responses.POST, CHECKOUTS_URL, json=body)

    with pytest.raises(MalformedResponseError) as info:
        client.create_checkout(seed_payload())

    assert info.value.status_code == 200
    assert info.value.path == "/v1/checkouts"


@pytest.mark.parametrize(
    "overrides",
    [
        pytest.param({"order_id": None}, id="no-order_id"),
        pytest.param({"status": ""}, id="empty-status"),
        pytest.param({"status": None}, id="no-status"),
        pytest.param({"status": 7}, id="number-status"),
    ],
)
def test_order_without_its_id_or_status_is_malformed(
    rsps: responses.RequestsMock, client: OrkestaPayClient, overrides: dict[str, Any]
) -> None:
    add_token(rsps)
    rsps.add(responses.GET, ORDER_URL, json=order_body(**overrides))

    with pytest.raises(MalformedResponseError) as info:
        client.get_order(ORDER_ID)
    assert info.value.path == f"/v1/orders/{ORDER_ID}"


@pytest.mark.parametrize(
    ("overrides", "problem"),
    [
        pytest.param({"total_amount": "lots"}, "total_amount is not a usable amount: 'lots'", id="bad-amount"),
        pytest.param({"total_amount": 1e30}, "total_amount is not a usable amount", id="huge-amount"),
        pytest.param({"total_amount": 990.005}, "total_amount is not a usable amount", id="three-places"),
        pytest.param({"subtotal_amount": {"value": 1}}, "subtotal_amount is not a usable amount", id="object-amount"),
        pytest.param({"currency": 484}, "currency is not a currency code", id="number-currency"),
    ],
)
def test_order_with_an_unusable_amount_or_currency_is_read_without_it(
    rsps: responses.RequestsMock, client: OrkestaPayClient, overrides: dict[str, Any], problem: str
) -> None:
    """One unusable value never makes the order unreadable: it is read as "not said", and named."""
    add_token(rsps)
    rsps.add(responses.GET, ORDER_URL, json=order_body(**overrides))

    order = client.get_order(ORDER_ID)

    field = next(iter(overrides))
    assert getattr(order, field) is None
    assert any(line.startswith(problem) for line in order.problems), order.problems


def test_order_with_only_its_id_and_status_is_read(rsps: responses.RequestsMock, client: OrkestaPayClient) -> None:
    """What the vendor plugins read of an order, and nothing more, is a whole answer."""
    add_token(rsps)
    rsps.add(responses.GET, ORDER_URL, json={"order_id": ORDER_ID, "status": "COMPLETED"})

    order = client.get_order(ORDER_ID)

    assert (order.order_id, order.status, order.total_amount, order.currency) == (ORDER_ID, "COMPLETED", None, None)
    assert order.problems == ()


def test_error_without_json_body_uses_default_message(rsps: responses.RequestsMock, client: OrkestaPayClient) -> None:
    add_token(rsps)
    rsps.add(responses.GET, ORDER_URL, status=404, body="Not Found", headers={"X-Request-Id": "edge-42"})

    with pytest.raises(NotFoundError) as info:
        client.get_order(ORDER_ID)

    assert info.value.message == NotFoundError.default_message
    assert info.value.response_body == "Not Found"
    assert info.value.request_id == "edge-42"


# ------------------------------------------------------------------------------------------------------------------
# Retries
# ------------------------------------------------------------------------------------------------------------------


def test_get_is_retried_on_503_then_succeeds(
    rsps: responses.RequestsMock, client: OrkestaPayClient, sleeps: Sleeps
) -> None:
    add_token(rsps)
    rsps.add(responses.GET, ORDER_URL, status=503, body=HTML_BODY)
    rsps.add(responses.GET, ORDER_URL, status=503, body=HTML_BODY)
    rsps.add(responses.GET, ORDER_URL, json=order_body())

    order = client.get_order(ORDER_ID)

    assert order.status == "COMPLETED"
    assert len(calls_to(rsps, ORDER_URL)) == 3
    assert sleeps == [0.25, 0.5]


def test_get_gives_up_after_max_retries(rsps: responses.RequestsMock, client: OrkestaPayClient, sleeps: Sleeps) -> None:
    add_token(rsps)
    rsps.add(responses.GET, ORDER_URL, status=502, body=HTML_BODY)

    with pytest.raises(ServerError):
        client.get_order(ORDER_ID)

    assert len(calls_to(rsps, ORDER_URL)) == 3
    assert sleeps == [0.25, 0.5]


def test_get_is_retried_on_timeout_and_429(
    rsps: responses.RequestsMock, client: OrkestaPayClient, sleeps: Sleeps
) -> None:
    add_token(rsps)
    rsps.add(responses.GET, ORDER_URL, body=requests.exceptions.ConnectTimeout("connect timed out"))
    rsps.add(responses.GET, ORDER_URL, status=429, json={"message": "slow down"})
    rsps.add(responses.GET, ORDER_URL, json=order_body())

    client.get_order(ORDER_ID)

    assert len(calls_to(rsps, ORDER_URL)) == 3
    assert len(sleeps) == 2


@pytest.mark.parametrize("status", [400, 404, 501])
def test_get_is_not_retried_on_other_errors(
    rsps: responses.RequestsMock, client: OrkestaPayClient, sleeps: Sleeps, status: int
) -> None:
    add_token(rsps)
    rsps.add(responses.GET, ORDER_URL, status=status, json={"message": "no"})

    with pytest.raises(APIError):
        client.get_order(ORDER_ID)

    assert len(calls_to(rsps, ORDER_URL)) == 1
    assert sleeps == []


def test_token_post_is_retried(rsps: responses.RequestsMock, client: OrkestaPayClient, sleeps: Sleeps) -> None:
    rsps.add(responses.POST, TOKEN_URL, status=502, body=HTML_BODY)
    add_token(rsps)

    assert client.get_access_token().access_token == ACCESS_TOKEN
    assert len(calls_to(rsps, TOKEN_URL)) == 2
    assert sleeps == [0.25]


@pytest.mark.parametrize(
    "failure",
    [
        pytest.param({"status": 503, "body": HTML_BODY}, id="503"),
        pytest.param({"body": requests.exceptions.ReadTimeout("read timed out")}, id="timeout"),
        pytest.param({"body": requests.exceptions.ConnectionError("reset")}, id="connection"),
        pytest.param({"status": 429, "json": {"message": "slow"}}, id="429"),
    ],
)
def test_create_checkout_is_never_retried(
    rsps: responses.RequestsMock, client: OrkestaPayClient, sleeps: Sleeps, failure: dict[str, Any]
) -> None:
    add_token(rsps)
    rsps.add(responses.POST, CHECKOUTS_URL, **failure)
    rsps.add(responses.POST, CHECKOUTS_URL, body=GUIDE_CHECKOUT_RESPONSE, content_type="application/json")

    with pytest.raises(OrkestaPayError):
        client.create_checkout(seed_payload())

    assert len(calls_to(rsps, CHECKOUTS_URL)) == 1
    assert sleeps == []


def test_refund_is_retried_with_the_same_idempotency_key(
    rsps: responses.RequestsMock, client: OrkestaPayClient, sleeps: Sleeps
) -> None:
    add_token(rsps)
    rsps.add(responses.POST, REFUND_URL, status=500, body=HTML_BODY)
    rsps.add(responses.POST, REFUND_URL, json={"transaction_id": "ctx_1", "status": "SUCCESS", "amount": 5})

    result = client.refund_payment(PAYMENT_ID, amount=Decimal("5"), description="r", idempotency_key="refund-77")

    assert result.succeeded
    refund_calls = calls_to(rsps, REFUND_URL)
    assert len(refund_calls) == 2
    assert {call.request.headers["Idempotency-Key"] for call in refund_calls} == {"refund-77"}
    assert sleeps == [0.25]


# ------------------------------------------------------------------------------------------------------------------
# Other endpoints
# ------------------------------------------------------------------------------------------------------------------


def test_refund_request_and_result(rsps: responses.RequestsMock, client: OrkestaPayClient) -> None:
    add_token(rsps)
    rsps.add(
        responses.POST,
        REFUND_URL,
        body='{"transaction_id": "ctx_9f", "type": "REFUND", "status": "SUCCESS", "amount": 400.55,'
        ' "provider": {"name": "Stripe", "message": "Refund processed"}}',
        content_type="application/json",
    )

    result = client.refund_payment(
        PAYMENT_ID, amount=Decimal("400.55"), description="Reembolso pedido 1366", idempotency_key="a" * 32
    )

    request = rsps.calls[1].request
    assert request.method == "POST"
    assert request.url == REFUND_URL
    assert request.headers["Idempotency-Key"] == "a" * 32
    assert request.headers["Authorization"] == f"Bearer {ACCESS_TOKEN}"
    assert request.headers["Content-Type"] == "application/json"
    assert request.headers["Accept"] == "application/json"
    body = sent_body(request)
    assert json.loads(body) == {"amount": 400.55, "description": "Reembolso pedido 1366"}
    assert b'"amount":400.55' in body
    assert result.succeeded
    assert result.transaction_id == "ctx_9f"
    assert result.status == "SUCCESS"
    assert result.amount == Decimal("400.55")
    assert result.message == "Refund processed"


def test_failed_refund_is_reported_not_raised(rsps: responses.RequestsMock, client: OrkestaPayClient) -> None:
    add_token(rsps)
    rsps.add(
        responses.POST,
        REFUND_URL,
        json={"transaction_id": "ctx_2", "status": "FAILED", "provider": {"message": "Refund not allowed"}},
    )

    result = client.refund_payment(PAYMENT_ID, amount=Decimal("1"), description="x", idempotency_key="k1")

    assert not result.succeeded
    assert result.status == "FAILED"
    assert result.message == "Refund not allowed"
    assert result.amount is None


@pytest.mark.parametrize(
    "kwargs",
    [
        {"amount": Decimal("0"), "description": "x", "idempotency_key": "k"},
        {"amount": Decimal("-1"), "description": "x", "idempotency_key": "k"},
        {"amount": Decimal("1"), "description": "x", "idempotency_key": ""},
        {"amount": Decimal("1"), "description": "x", "idempotency_key": "k\r\nX-Evil: 1"},
    ],
)
def test_refund_arguments_are_validated(
    rsps: responses.RequestsMock, client: OrkestaPayClient, kwargs: dict[str, Any]
) -> None:
    with pytest.raises(ValueError, match=r"amount|idempotency_key"):
        client.refund_payment(PAYMENT_ID, **kwargs)
    assert len(rsps.calls) == 0


def test_get_checkout(rsps: responses.RequestsMock, client: OrkestaPayClient) -> None:
    add_token(rsps)
    url = f"{SANDBOX_BASE_URL}/v1/checkouts/chk_e69283cb55814402b9372a2f834cc8a8"
    rsps.add(responses.GET, url, body=GUIDE_CHECKOUT_RESPONSE, content_type="application/json")

    result = client.get_checkout("chk_e69283cb55814402b9372a2f834cc8a8")

    assert rsps.calls[1].request.method == "GET"
    assert result.redirect_url == GUIDE_CHECKOUT_URL
    assert result.order_id == ORDER_ID


def test_list_order_payments_returns_content(rsps: responses.RequestsMock, client: OrkestaPayClient) -> None:
    add_token(rsps)
    payments = [{"payment_id": "pay_1", "status": "FAILED"}, {"payment_id": "pay_2", "status": "COMPLETED"}]
    rsps.add(responses.GET, ORDER_URL + "/payments", json={"content": payments, "totalElements": 2})
    rsps.add(responses.GET, f"{SANDBOX_BASE_URL}/v1/orders/ord_none/payments", json={"totalElements": 0})

    assert client.list_order_payments(ORDER_ID) == payments
    with pytest.raises(MalformedResponseError):
        client.list_order_payments("ord_none")


def test_get_payment_returns_the_object_with_decimal_amounts(
    rsps: responses.RequestsMock, client: OrkestaPayClient
) -> None:
    add_token(rsps)
    rsps.add(
        responses.GET,
        f"{SANDBOX_BASE_URL}/v1/payments/{PAYMENT_ID}",
        body=f'{{"payment_id": "{PAYMENT_ID}", "status": "COMPLETED", "amount": {{"authorized": 0.1}}}}',
        content_type="application/json",
    )

    payment = client.get_payment(PAYMENT_ID)

    assert payment["status"] == "COMPLETED"
    assert payment["amount"]["authorized"] == Decimal("0.1")
    assert isinstance(payment["amount"]["authorized"], Decimal)


def test_ids_are_quoted_into_one_path_segment(rsps: responses.RequestsMock, client: OrkestaPayClient) -> None:
    add_token(rsps)
    rsps.add(responses.GET, f"{SANDBOX_BASE_URL}/v1/orders/ord_1%2F..%2Fpayments%3Fx%3D1", json=order_body())

    client.get_order("ord_1/../payments?x=1")

    assert rsps.calls[1].request.url == f"{SANDBOX_BASE_URL}/v1/orders/ord_1%2F..%2Fpayments%3Fx%3D1"
    for bad in ("", "..", "."):
        with pytest.raises(ValueError, match="order_id"):
            client.get_order(bad)


# ------------------------------------------------------------------------------------------------------------------
# RemoteOrder parsing
# ------------------------------------------------------------------------------------------------------------------


def test_remote_order_parses_exact_decimals_and_epoch_ms(
    rsps: responses.RequestsMock, client: OrkestaPayClient
) -> None:
    add_token(rsps)
    rsps.add(
        responses.GET,
        ORDER_URL,
        body=(
            f'{{"order_id": "{ORDER_ID}", "merchant_order_id": "1366656595193", "status": "completed",'
            ' "currency": "MXN", "subtotal_amount": 1234567890.10, "total_amount": 0.30,'
            ' "expires_at": "1713566914212", "payment_id": "pay_a", "payments": [{"payment_id": "pay_b"},'
            ' {"payment_id": "pay_a"}], "payment_ids": ["pay_c"]}'
        ),
        content_type="application/json",
    )

    order = client.get_order(ORDER_ID)

    assert isinstance(order, RemoteOrder)
    assert order.order_id == ORDER_ID
    assert order.merchant_order_id == "1366656595193"
    assert order.status == "COMPLETED"
    assert order.currency == "MXN"
    assert order.total_amount == Decimal("0.30")
    assert str(order.total_amount) == "0.30"
    assert order.subtotal_amount == Decimal("1234567890.10")
    assert str(order.subtotal_amount) == "1234567890.10"
    assert order.expires_at == GUIDE_EXPIRES_AT
    assert order.expires_at is not None
    assert order.expires_at.tzinfo is UTC
    assert order.payment_ids == ("pay_a", "pay_c", "pay_b")
    assert order.raw["order_id"] == ORDER_ID


def test_remote_order_accepts_string_amounts_numeric_expiry_and_missing_optionals(
    rsps: responses.RequestsMock, client: OrkestaPayClient
) -> None:
    add_token(rsps)
    rsps.add(
        responses.GET,
        ORDER_URL,
        json={"order_id": ORDER_ID, "status": "CREATED", "total_amount": "990.10", "expires_at": 1713566914212},
    )

    order = client.get_order(ORDER_ID)

    assert order.total_amount == Decimal("990.10")
    assert order.subtotal_amount is None
    assert order.merchant_order_id is None
    assert order.currency is None
    assert order.expires_at == GUIDE_EXPIRES_AT
    assert order.payment_ids == ()


# ------------------------------------------------------------------------------------------------------------------
# Secrets stay out of logs and exceptions
# ------------------------------------------------------------------------------------------------------------------


def test_secrets_never_reach_logs_or_exceptions(
    rsps: responses.RequestsMock, client: OrkestaPayClient, caplog: pytest.LogCaptureFixture
) -> None:
    caplog.set_level(logging.DEBUG)
    add_token(rsps, ACCESS_TOKEN)
    add_token(rsps, SECOND_TOKEN)
    # A token refusal, a retried 503, then errors whose bodies echo the credentials back.
    rsps.add(responses.GET, ORDER_URL, status=401, json={"message": "expired", "access_token": ACCESS_TOKEN})
    rsps.add(responses.GET, ORDER_URL, status=503, body=f"<html>bad gateway {SECOND_TOKEN}</html>")
    rsps.add(responses.GET, ORDER_URL, json=order_body())
    rsps.add(
        responses.POST,
        CHECKOUTS_URL,
        status=400,
        json={
            "message": f"bad request from {CLIENT_SECRET} with Bearer {SECOND_TOKEN}",
            "validation_errors": [{"field": "client_secret", "message": f"{CLIENT_SECRET} rejected"}],
            "echo": {"authorization": f"Bearer {SECOND_TOKEN}", "note": CLIENT_SECRET},
        },
    )
    rsps.add(responses.GET, f"{SANDBOX_BASE_URL}/v1/payments/{PAYMENT_ID}", status=500, body=CLIENT_SECRET)
    rsps.add(responses.POST, REFUND_URL, body=requests.exceptions.ReadTimeout(f"timeout {SECOND_TOKEN}"))

    errors: list[OrkestaPayError] = []
    client.get_order(ORDER_ID)
    for call in (
        lambda: client.create_checkout(seed_payload()),
        lambda: client.get_payment(PAYMENT_ID),
        lambda: client.refund_payment(PAYMENT_ID, amount=Decimal("1"), description="d", idempotency_key="k"),
    ):
        with pytest.raises(OrkestaPayError) as info:
            call()
        errors.append(info.value)

    other = OrkestaPayClient(client_id=CLIENT_ID, client_secret=CLIENT_SECRET, base_url=PRODUCTION_BASE_URL)
    rsps.add(
        responses.POST,
        f"{PRODUCTION_BASE_URL}/v1/oauth/tokens",
        status=401,
        json={"message": f"unknown client secret {CLIENT_SECRET}", "client_secret": CLIENT_SECRET},
    )
    with pytest.raises(AuthenticationError) as info:
        other.get_access_token()
    errors.append(info.value)

    # The calls were really made and logged (this test would pass vacuously otherwise).
    assert "OrkestaPay GET /v1/orders/" in caplog.text
    assert "-> 401" in caplog.text
    assert "-> 503" in caplog.text
    assert any(record.levelno == logging.WARNING for record in caplog.records)
    assert len(errors) == 4
    for secret in (CLIENT_SECRET, ACCESS_TOKEN, SECOND_TOKEN):
        assert secret not in caplog.text
        for record in caplog.records:
            assert secret not in record.getMessage()
        for error in errors:
            assert secret not in str(error)
            assert secret not in repr(error)
            assert secret not in repr(error.response_body)
            assert secret not in repr(error.validation_errors)
            assert secret not in error.message
    assert CLIENT_SECRET not in repr(client)
    assert "Bearer" not in caplog.text


def test_access_token_repr_hides_the_token() -> None:
    token = AccessToken(access_token=ACCESS_TOKEN, token_type="Bearer", expires_at=10.0)

    assert ACCESS_TOKEN not in repr(token)
    assert ACCESS_TOKEN not in str(token)
    assert token.is_usable(now=9.0, leeway=0.5)
    assert not token.is_usable(now=9.5, leeway=0.5)


# ------------------------------------------------------------------------------------------------------------------
# InMemoryTokenCache and lifecycle
# ------------------------------------------------------------------------------------------------------------------


def test_in_memory_cache_honours_timeouts(clock: FakeClock) -> None:
    cache = InMemoryTokenCache(clock=clock)
    value: dict[str, Any] = {"access_token": "x", "nested": [1]}

    cache.set("k", value, timeout=10)
    value["nested"].append(2)
    assert cache.get("k") == {"access_token": "x", "nested": [1]}
    clock.now += 9.9
    assert cache.get("k") is not None
    clock.now += 0.1
    assert cache.get("k", "gone") == "gone"

    cache.set("forever", 1, timeout=None)
    cache.set("never", 1, timeout=0)
    clock.now += 10**9
    assert cache.get("forever") == 1
    assert cache.get("never") is None
    assert cache.delete("forever") is True
    assert cache.delete("forever") is False


def test_a_broken_cache_does_not_block_calls(
    rsps: responses.RequestsMock, clock: FakeClock, sleeps: Sleeps, caplog: pytest.LogCaptureFixture
) -> None:
    class BrokenCache:
        def get(self, key: str, default: Any = None) -> Any:
            raise ConnectionError("redis down")

        def set(self, key: str, value: Any, timeout: float | None = None) -> None:
            raise ConnectionError("redis down")

        def add(self, key: str, value: Any, timeout: float | None = None) -> bool:
            raise ConnectionError("redis down")

        def delete(self, key: str) -> Any:
            raise ConnectionError("redis down")

    add_token(rsps)
    rsps.add(responses.GET, ORDER_URL, json=order_body())
    client = OrkestaPayClient(
        client_id=CLIENT_ID, client_secret=CLIENT_SECRET, token_cache=BrokenCache(), clock=clock, sleep=sleeps
    )

    with caplog.at_level(logging.WARNING, logger="django_orkestapay.client"):
        assert client.get_order(ORDER_ID).order_id == ORDER_ID
        assert client.get_order(ORDER_ID).order_id == ORDER_ID

    assert len(calls_to(rsps, TOKEN_URL)) == 2  # nothing cached: a token per call, as with no cache at all
    assert sleeps == []  # and never a wait for a fetch lock it cannot take
    assert "token cache add failed (ConnectionError)" in caplog.text


def test_close_closes_only_an_owned_session(monkeypatch: pytest.MonkeyPatch) -> None:
    closed: list[str] = []

    class TrackingSession(requests.Session):
        def close(self) -> None:
            closed.append("injected")
            super().close()

    with OrkestaPayClient(client_id=CLIENT_ID, client_secret=CLIENT_SECRET, session=TrackingSession()):
        pass
    assert closed == []

    client = OrkestaPayClient(client_id=CLIENT_ID, client_secret=CLIENT_SECRET)
    monkeypatch.setattr(client._transport.session, "close", lambda: closed.append("owned"))
    with client as entered:
        assert entered is client
    assert closed == ["owned"]


def test_the_client_package_imports_no_django() -> None:
    code = "import sys, django_orkestapay.client; print(sorted(m for m in sys.modules if m.split('.')[0] == 'django'))"
    result = subprocess.run([sys.executable, "-c", code], capture_output=True, text=True, check=True)
    assert result.stdout.strip() == "[]"
