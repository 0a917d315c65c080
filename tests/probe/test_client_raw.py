"""What the probe adds to the client: ``raw_request`` (through the client's own transport and token handling) and
the public parsers ``parse_checkout`` / ``parse_order``. HTTP is mocked with ``responses``."""

from __future__ import annotations

import json
from collections.abc import Iterator

import pytest
import responses

from django_orkestapay.client import SANDBOX_BASE_URL, OrkestaPayClient, parse_checkout, parse_order
from django_orkestapay.exceptions import AuthenticationError, ServerError

SECRET = "raw-secret-value-1234"
TOKENS = ["eyJhbGciOiJub25lIn0.eyJuIjoxfQ.first", "eyJhbGciOiJub25lIn0.eyJuIjoyfQ.second"]
TOKEN_URL = f"{SANDBOX_BASE_URL}/v1/oauth/tokens"
SETTINGS_URL = f"{SANDBOX_BASE_URL}/v1/merchants/settings"


@pytest.fixture
def client() -> Iterator[OrkestaPayClient]:
    with OrkestaPayClient(client_id="raw-client", client_secret=SECRET, sleep=lambda seconds: None) as made:
        yield made


@pytest.fixture
def mocked() -> Iterator[responses.RequestsMock]:
    with responses.RequestsMock(assert_all_requests_are_fired=False) as mock:
        for token in TOKENS:
            mock.add("POST", TOKEN_URL, json={"access_token": token, "token_type": "Bearer", "expires_in": 1800})
        yield mock


def test_an_authorised_raw_call_renews_a_refused_token_once(
    client: OrkestaPayClient, mocked: responses.RequestsMock
) -> None:
    mocked.add("GET", SETTINGS_URL, status=401, json={"message": "expired"})
    mocked.add("GET", SETTINGS_URL, json={"custom_settings": {}})

    status, body = client.raw_request("GET", "/v1/merchants/settings", headers={"X-Probe": "1"})

    assert (status, body) == (200, {"custom_settings": {}})
    auth = [call.request.headers.get("Authorization") for call in mocked.calls if call.request.method == "GET"]
    assert auth == [f"Bearer {TOKENS[0]}", f"Bearer {TOKENS[1]}"]
    assert mocked.calls[-1].request.headers["X-Probe"] == "1"


def test_a_given_token_is_sent_as_is_and_never_renewed(
    client: OrkestaPayClient, mocked: responses.RequestsMock
) -> None:
    mocked.add("GET", SETTINGS_URL, status=401, json={"message": "bad token not-a-token-123456"})

    with pytest.raises(AuthenticationError) as refused:
        client.raw_request("GET", "/v1/merchants/settings", access_token="not-a-token-123456")

    assert [call.request.url for call in mocked.calls] == [SETTINGS_URL]  # no token fetched, no second try
    assert mocked.calls[0].request.headers["Authorization"] == "Bearer not-a-token-123456"
    assert refused.value.message == "bad token ***"  # the token is scrubbed like any other


def test_an_unauthorised_raw_call_sends_no_token_and_is_never_retried(
    client: OrkestaPayClient, mocked: responses.RequestsMock
) -> None:
    mocked.replace("POST", TOKEN_URL, status=503, body="down")

    with pytest.raises(ServerError):
        client.raw_request("POST", "/v1/oauth/tokens", payload={"client_secret": SECRET}, authorise=False)

    (call,) = mocked.calls
    assert "Authorization" not in call.request.headers
    assert json.loads(call.request.body or b"{}") == {"client_secret": SECRET}


def test_raw_calls_stay_under_v1(client: OrkestaPayClient) -> None:
    with pytest.raises(ValueError, match="/v1/"):
        client.raw_request("GET", "https://elsewhere.example/v1/orders")


def test_the_public_parsers() -> None:
    checkout = {
        "checkout_id": "chk_1",
        "checkout_redirect_url": "https://checkout.sand.orkestapay.com/#/checkout/chk_1",
        "order": {"order_id": "ord_1", "status": "created", "expires_at": "1713566914212"},
    }

    assert parse_checkout(checkout).order_status == "CREATED"
    assert parse_order({"order_id": "ord_1", "status": "COMPLETED", "total_amount": 990}).total_amount == 990
    with pytest.raises(ValueError, match="order is missing"):
        parse_checkout({**checkout, "order": None})
    with pytest.raises(ValueError, match="status is missing"):
        parse_order({"order_id": "ord_1"})
