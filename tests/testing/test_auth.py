"""Token endpoint and Bearer authentication."""

from __future__ import annotations

import base64
import json
import re
from typing import Any

import pytest

from django_orkestapay.testing import FakeOrkestaPay

from .helpers import ApiClient, FakeClock, session

JWT = re.compile(r"^[A-Za-z0-9_-]+\.[A-Za-z0-9_-]+\.[A-Za-z0-9_-]+$")
CREDS = {"client_id": "fake-client-id", "client_secret": "fake-client-secret", "grant_type": "client_credentials"}


def _b64json(part: str) -> Any:
    return json.loads(base64.urlsafe_b64decode(part + "=" * (-len(part) % 4)))


def test_token_is_issued_jwt_shaped(fake: FakeOrkestaPay) -> None:
    response = session().post(f"{fake.base_url}/v1/oauth/tokens", json=CREDS, timeout=5)

    assert response.status_code == 200
    body = response.json()
    assert body["token_type"] == "Bearer"
    assert body["expires_in"] == 1800
    token = body["access_token"]
    assert JWT.match(token)
    header_part, payload_part, signature_part = token.split(".")
    header, claims = _b64json(header_part), _b64json(payload_part)
    assert header["alg"] == "RS256"
    assert header["typ"] == "JWT"
    assert header["kid"]
    assert claims["exp"] - claims["iat"] == 1800
    assert claims["iss"].endswith("/auth/realms/orkestapay")
    assert claims["typ"] == "Bearer"
    assert claims["azp"] == "fake-client-id"
    assert claims["jti"]
    assert claims["sub"]
    assert len(base64.urlsafe_b64decode(signature_part + "=" * (-len(signature_part) % 4))) == 256


def test_token_secret_is_redacted_in_the_request_log(fake: FakeOrkestaPay) -> None:
    session().post(f"{fake.base_url}/v1/oauth/tokens", json=CREDS, timeout=5)

    [record] = fake.request_log
    assert record.json_body["client_secret"] == "[REDACTED]"
    assert "fake-client-secret" not in json.dumps(record.as_dict())


@pytest.mark.orkestapay_profile("rich")  # validation_errors: test_evidence_profile has the other
@pytest.mark.parametrize(
    ("changes", "status", "field"),
    [
        ({"client_secret": "wrong"}, 401, None),
        ({"client_id": "someone-else"}, 401, None),
        ({"client_secret": None}, 400, "client_secret"),
        ({"grant_type": None}, 400, "grant_type"),
        ({"grant_type": "password"}, 400, "grant_type"),
    ],
)
def test_token_refused(fake: FakeOrkestaPay, changes: dict[str, Any], status: int, field: str | None) -> None:
    body = {k: v for k, v in {**CREDS, **changes}.items() if v is not None}

    response = session().post(f"{fake.base_url}/v1/oauth/tokens", json=body, timeout=5)

    assert response.status_code == status
    assert response.json()["message"]
    if field is not None:
        assert [e["field"] for e in response.json()["validation_errors"]] == [field]


def test_token_endpoint_accepts_json_only(fake: FakeOrkestaPay) -> None:
    response = session().post(f"{fake.base_url}/v1/oauth/tokens", data=CREDS, timeout=5)

    assert response.status_code == 415
    assert "application/json" in response.json()["message"]


@pytest.mark.orkestapay_profile("rich")  # category: test_evidence_profile has the other
def test_api_needs_a_bearer_token(fake: FakeOrkestaPay) -> None:
    http = session()

    missing = http.get(f"{fake.base_url}/v1/orders/ord_x", timeout=5)
    garbage = http.get(f"{fake.base_url}/v1/orders/ord_x", headers={"Authorization": "Bearer abc.def.ghi"}, timeout=5)

    for response in (missing, garbage):
        assert response.status_code == 401
        body = response.json()
        assert body["category"] == "AUTHENTICATION"
        assert body["message"]
        assert body["request_id"]


def test_token_expires_with_the_injected_clock(make_fake: Any) -> None:
    clock = FakeClock()
    fake = make_fake(clock=clock, token_lifetime=600)
    api = ApiClient(fake)
    api.token()

    clock.advance(599)
    assert api.get("/v1/merchants/settings").status_code == 200
    clock.advance(1)
    response = api.get("/v1/merchants/settings")

    assert response.status_code == 401
    assert "expired" in response.json()["message"]


def test_expire_tokens_invalidates_issued_tokens(fake: FakeOrkestaPay, api: ApiClient) -> None:
    assert api.get("/v1/merchants/settings").status_code == 200

    fake.expire_tokens()

    assert api.get("/v1/merchants/settings").status_code == 401


def test_custom_credentials(make_fake: Any) -> None:
    fake = make_fake(client_id="shop-1", client_secret="s3cret")
    creds = {"client_id": "shop-1", "client_secret": "s3cret", "grant_type": "client_credentials"}

    assert session().post(f"{fake.base_url}/v1/oauth/tokens", json=creds, timeout=5).status_code == 200
    assert session().post(f"{fake.base_url}/v1/oauth/tokens", json=CREDS, timeout=5).status_code == 401
