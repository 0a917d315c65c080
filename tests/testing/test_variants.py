"""The switches that answer the API's open questions differently (``testing.variants``): each one's effect, its
``/_fake/settings`` control route, and ``reset()`` putting it back."""

from __future__ import annotations

import base64
import json
from collections.abc import Callable
from typing import Any
from urllib.parse import parse_qsl, urlsplit

import pytest

from django_orkestapay.testing import FakeOrkestaPay

from .helpers import ApiClient, FakeClock, page_url, seed_body, session

#: The rich profile's defaults and error bodies (``test_evidence_profile`` has the evidence profile's).
rich = pytest.mark.orkestapay_profile("rich")


def query(url: str) -> list[tuple[str, str]]:
    return parse_qsl(urlsplit(url).query)


@rich
def test_return_parameters_by_default(fake: FakeOrkestaPay, api: ApiClient) -> None:
    paid, canceled = api.create_checkout(), api.create_checkout()

    completed_url = fake.pay(paid["checkout_id"])
    canceled_url = fake.cancel(canceled["checkout_id"])

    payment_id = fake.get_order(paid["order"]["order_id"])["payment_id"]
    assert query(completed_url) == [
        ("orkesta", "completed"),
        ("ref", "abc def"),
        ("order_id", paid["order"]["order_id"]),
        ("payment_id", payment_id),
        ("checkout_id", paid["checkout_id"]),
    ]
    assert query(canceled_url) == [
        ("orkesta", "canceled"),
        ("order_id", canceled["order"]["order_id"]),
        ("checkout_id", canceled["checkout_id"]),
    ]


def test_other_return_parameters_and_a_lost_query(fake: FakeOrkestaPay, api: ApiClient) -> None:
    fake.return_params_completed = ("orderId", "status", "signature")
    fake.return_params_canceled = ()
    fake.return_keeps_query = False
    paid, canceled = api.create_checkout(), api.create_checkout()

    completed_url = fake.pay(paid["checkout_id"])
    canceled_url = fake.cancel(canceled["checkout_id"])

    names = [name for name, _ in query(completed_url)]
    assert names == ["orderId", "status", "signature"]
    assert dict(query(completed_url))["orderId"] == paid["order"]["order_id"]
    assert dict(query(completed_url))["status"] == "COMPLETED"
    assert len(dict(query(completed_url))["signature"]) == 64
    assert canceled_url == "https://shop.example/cancel"


def test_the_hosted_page_redirects_with_the_configured_parameters(fake: FakeOrkestaPay, api: ApiClient) -> None:
    fake.return_params_completed = ("paymentId",)
    checkout = api.create_checkout()

    response = session().post(f"{page_url(checkout)}/pay", allow_redirects=False, timeout=5)

    assert response.status_code == 303
    assert [name for name, _ in query(response.headers["Location"])] == ["orkesta", "ref", "paymentId"]


@rich
def test_accepted_locales(fake: FakeOrkestaPay, api: ApiClient) -> None:
    fake.accepted_locales = ("ES_LATAM",)

    refused = api.post("/v1/checkouts", {**seed_body(), "locale": "EN_US"})
    accepted = api.post("/v1/checkouts", seed_body())

    assert refused.status_code == 400
    assert refused.json()["validation_errors"] == [{"field": "locale", "message": "locale debe ser uno de ES_LATAM"}]
    assert accepted.status_code == 200
    fake.reset()  # forgets the tokens too
    assert ApiClient(fake).post("/v1/checkouts", {**seed_body(), "locale": "EN_US"}).status_code == 200


@rich
def test_duplicate_merchant_order_ids(fake: FakeOrkestaPay, api: ApiClient) -> None:
    assert api.post("/v1/checkouts", seed_body()).status_code == 200
    assert api.post("/v1/checkouts", seed_body()).status_code == 200  # accepted by default

    fake.reject_duplicate_merchant_order_ids = True
    refused = api.post("/v1/checkouts", seed_body())
    fresh = api.post("/v1/checkouts", seed_body(merchant_order_id="another"))

    assert refused.status_code == 400
    assert refused.json()["validation_errors"][0]["field"] == "order.merchant_order_id"
    assert fresh.status_code == 200
    assert len(fake.orders) == 3


@rich
@pytest.mark.parametrize(
    ("style", "status", "body"),
    [
        ("standard", 401, {"category": "AUTHENTICATION", "message": "Invalid or expired access token"}),
        ("message", 403, {"message": "Invalid or expired access token"}),
        ("oauth", 401, {"error": "invalid_token", "error_description": "Invalid or expired access token"}),
        ("empty", 401, None),
    ],
)
def test_refused_token_answers(fake: FakeOrkestaPay, style: str, status: int, body: Any) -> None:
    fake.auth_failure_body = style
    fake.auth_failure_status = status

    response = session().get(f"{fake.base_url}/v1/orders/ord_x", headers={"Authorization": "Bearer nope"}, timeout=5)

    assert response.status_code == status
    if body is None:
        assert response.content == b""
    else:
        answer = response.json()
        answer.pop("request_id", None)
        assert answer == body


@pytest.mark.parametrize(
    ("shape", "check"),
    [
        ("full", lambda view, made: view == made),
        ("without_order", lambda view, made: "order" not in view and view["order_id"] == made["order"]["order_id"]),
        ("without_redirect_url", lambda view, made: "checkout_redirect_url" not in view and "order" in view),
        (
            "redirect_only",
            lambda view, made: view == {k: made[k] for k in ("checkout_id", "checkout_redirect_url")},
        ),
    ],
)
def test_checkout_read_shapes(
    fake: FakeOrkestaPay, api: ApiClient, shape: str, check: Callable[[dict[str, Any], dict[str, Any]], bool]
) -> None:
    made = api.create_checkout()
    fake.checkout_read_shape = shape

    response = api.get(f"/v1/checkouts/{made['checkout_id']}")

    assert response.status_code == 200
    assert check(response.json(), made)


def test_checkout_reads_unsupported(fake: FakeOrkestaPay, api: ApiClient) -> None:
    made = api.create_checkout()
    fake.checkout_read_shape = "unsupported"

    assert api.get(f"/v1/checkouts/{made['checkout_id']}").status_code == 405


@rich
def test_product_id_fields(fake: FakeOrkestaPay, api: ApiClient) -> None:
    products = [{"product_id": "7197", "name": "TV", "quantity": 1, "unit_price": 1000}]
    fake.product_id_fields = ("id",)

    refused = api.post("/v1/checkouts", seed_body(products=products))
    legacy = api.post("/v1/checkouts", seed_body())  # the guide's "id"

    assert refused.status_code == 400
    assert refused.json()["validation_errors"] == [
        {"field": "order.products[0]", "message": "order.products[0] requiere id"}
    ]
    assert legacy.status_code == 200
    assert legacy.json()["order"]["products"][0]["product_id"] == "7197"


def test_token_claims_lifetime(make_fake: Callable[..., FakeOrkestaPay]) -> None:
    clock = FakeClock()
    fake = make_fake(clock=clock, token_claims_lifetime=180)
    api = ApiClient(fake)
    token = api.token()
    claims = token.split(".")[1]
    payload = json.loads(base64.urlsafe_b64decode(claims + "=" * (-len(claims) % 4)))

    assert payload["exp"] - payload["iat"] == 180
    assert api.get("/v1/merchants/providers/brands").status_code == 200
    clock.advance(181)
    assert api.get("/v1/merchants/providers/brands").status_code == 401  # well before expires_in's 1800 s


def test_settings_control_routes(fake: FakeOrkestaPay) -> None:
    http = session()
    read_shape = fake.checkout_read_shape

    changed = http.post(
        f"{fake.base_url}/_fake/settings",
        json={"accepted_locales": ["ES_LATAM"], "checkout_lifetime": 86400, "latency": 0.0, "strict_amounts": True},
        timeout=5,
    )
    unknown = http.post(f"{fake.base_url}/_fake/settings", json={"no_such_switch": 1}, timeout=5)
    invalid = http.post(f"{fake.base_url}/_fake/settings", json={"checkout_read_shape": "round"}, timeout=5)
    listed = http.get(f"{fake.base_url}/_fake/settings", timeout=5).json()

    assert changed.status_code == 200
    assert fake.accepted_locales == ("ES_LATAM",)
    assert fake.checkout_lifetime == 86400
    assert fake.strict_amounts is True
    assert listed["accepted_locales"] == ["ES_LATAM"]
    assert (unknown.status_code, invalid.status_code) == (400, 400)
    assert "no_such_switch" in unknown.json()["message"]
    assert fake.checkout_read_shape == read_shape
    fake.reset()
    assert fake.accepted_locales is None
    assert fake.checkout_lifetime == 3600


@pytest.mark.parametrize(
    ("name", "value"),
    [
        ("return_params_completed", ["order_id", "ticket"]),
        ("return_params_canceled", "order_id"),
        ("product_id_fields", []),
        ("accepted_locales", "ES_LATAM"),
        ("auth_failure_status", 200),
        ("auth_failure_body", "html"),
    ],
)
def test_invalid_switch_values_are_refused(fake: FakeOrkestaPay, name: str, value: Any) -> None:
    with pytest.raises(ValueError, match=name):
        setattr(fake, name, value)


def test_reset_restores_every_switch(make_fake: Callable[..., FakeOrkestaPay]) -> None:
    fake = make_fake(accepted_locales=["ES_LATAM", "EN_US"], auth_failure_status=403)
    before = fake.settings.switches()
    fake.accepted_locales = None
    fake.auth_failure_status = 401
    fake.return_keeps_query = False
    fake.token_claims_lifetime = 60

    fake.reset()

    assert fake.settings.switches() == before
    assert before["accepted_locales"] == ("ES_LATAM", "EN_US")
    assert ApiClient(fake).headers()["Authorization"].startswith("Bearer ")
