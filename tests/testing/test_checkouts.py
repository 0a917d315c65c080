"""POST/GET /v1/checkouts: the guide's sample, response shape, validation (one test per rule), amounts."""

from __future__ import annotations

import copy
import json
import re
from typing import Any

import pytest

from django_orkestapay.testing import FakeOrkestaPay

from .helpers import ApiClient, FakeClock, in_both_profiles, page_url, seed_body, session

#: The rich profile's error bodies (``category``, ``validation_errors``) and echoes; ``test_evidence_profile`` has the
#: evidence profile's.
pytestmark = pytest.mark.orkestapay_profile("rich")

ID = {prefix: re.compile(rf"^{prefix}_[0-9a-f]{{32}}$") for prefix in ("chk", "ord", "cus", "pay", "ctx")}
MS = re.compile(r"^\d{13}$")


@in_both_profiles
def test_seed_request_is_accepted_in_the_guides_shape(fake: FakeOrkestaPay, api: ApiClient, profile: str) -> None:
    checkout = api.create_checkout()

    assert set(checkout) == {
        "checkout_id",
        "checkout_redirect_url",
        "completed_redirect_url",
        "canceled_redirect_url",
        "allow_save_payment_methods",
        "locale",
        "placed_at",
        "order",
    }
    assert ID["chk"].match(checkout["checkout_id"])
    assert page_url(checkout) == f"{fake.base_url}/checkout/{checkout['checkout_id']}"
    assert checkout["completed_redirect_url"] == seed_body()["completed_redirect_url"]
    assert checkout["allow_save_payment_methods"] is False
    assert checkout["locale"] == "ES_LATAM"
    order = checkout["order"]
    guide_order_keys = {
        "order_id", "status", "expires_at", "merchant_order_id", "country", "country_code", "currency", "taxes",
        "discounts", "subtotal_amount", "total_amount", "products", "customer", "placed_at", "metadata",
    }  # fmt: skip
    assert guide_order_keys <= set(order)
    assert ID["ord"].match(order["order_id"])
    assert order["status"] == "CREATED"
    assert MS.match(order["expires_at"])
    assert MS.match(checkout["placed_at"])
    assert order["country"] == "México"
    assert order["taxes"] == []
    assert order["metadata"] == {}
    assert order["discounts"] == [{"amount": 10}]
    assert order["products"] == [
        {"product_id": "7197", "name": "Pantalla TCL Smart TV Serie A3 A343 HD Android TV 40", "quantity": 1,
         "unit_price": 1000}
    ]  # fmt: skip
    customer = order["customer"]
    assert ID["cus"].match(customer["customer_id"])
    assert customer["email"] == "john.doe@example.com"
    assert MS.match(customer["created_at"])


def test_get_checkout_returns_the_same_shape(api: ApiClient) -> None:
    created = api.create_checkout()

    response = api.get(f"/v1/checkouts/{created['checkout_id']}")

    assert response.status_code == 200
    assert response.json() == created


def test_unknown_checkout_and_route(api: ApiClient) -> None:
    missing = api.get("/v1/checkouts/chk_00000000000000000000000000000000")
    unknown_route = api.get("/v1/nothing-here")
    wrong_method = api.http.delete(f"{api.fake.base_url}/v1/checkouts", headers=api.headers(), timeout=5)

    assert missing.status_code == 404
    assert missing.json()["message"]
    assert unknown_route.status_code == 404
    assert unknown_route.json()["message"]
    assert wrong_method.status_code == 405


def test_amounts_are_echoed_as_the_same_number_text(api: ApiClient) -> None:
    raw = json.dumps(seed_body(subtotal_amount=1000, total_amount=990)).replace(
        '"total_amount": 990', '"total_amount": 990.50'
    )
    raw = raw.replace('"amount": 10}', '"amount": 9.5}')

    response = api.post("/v1/checkouts", raw)

    assert response.status_code == 200, response.text
    assert '"total_amount":990.50' in response.text
    assert '"amount":9.5}' in response.text


def test_public_base_url_moves_the_hosted_page(make_fake: Any) -> None:
    fake = make_fake(public_base_url="https://pay.shop.test/")
    checkout = ApiClient(fake).create_checkout()

    assert checkout["checkout_redirect_url"] == f"https://pay.shop.test/checkout/{checkout['checkout_id']}"
    page = session().get(f"{fake.base_url}/checkout/{checkout['checkout_id']}", timeout=5).text
    assert f'action="https://pay.shop.test/checkout/{checkout["checkout_id"]}/pay"' in page


def test_expires_at_default_and_explicit(make_fake: Any) -> None:
    clock = FakeClock(1_800_000_000)
    api = ApiClient(make_fake(clock=clock, checkout_lifetime=300))

    default = api.create_checkout()["order"]["expires_at"]
    explicit = api.create_checkout(seed_body(expires_at=1_800_000_900_000))["order"]["expires_at"]

    assert default == str(1_800_000_300_000)
    assert explicit == "1800000900000"


def _remove(body: dict[str, Any], dotted: str) -> None:
    *parents, last = dotted.split(".")
    target: Any = body
    for key in parents:
        target = target[int(key)] if key.isdigit() else target[key]
    del target[last]


BAD_VALUES = [
    ("completed_redirect_url", "/relative/complete", "completed_redirect_url"),
    ("canceled_redirect_url", "ftp://shop.example/cancel", "canceled_redirect_url"),
    ("allow_save_payment_methods", "no", "allow_save_payment_methods"),
    ("locale", 5, "locale"),
    ("order", "not an object", "order"),
    ("order.merchant_order_id", "", "order.merchant_order_id"),
    ("order.currency", "EUR", "order.currency"),
    ("order.country_code", "MEX", "order.country_code"),
    ("order.subtotal_amount", 0, "order.subtotal_amount"),
    ("order.total_amount", -5, "order.total_amount"),
    ("order.total_amount", "990", "order.total_amount"),
    ("order.total_amount", True, "order.total_amount"),
    ("order.discounts", {"amount": 1}, "order.discounts"),
    ("order.shipping_details", {"amount": -1}, "order.shipping_details.amount"),
    ("order.products", [], "order.products"),
    ("order.customer", "john", "order.customer"),
    ("order.customer.email", "not-an-email", "order.customer.email"),
    ("order.customer.first_name", "  ", "order.customer.first_name"),
]


@pytest.mark.parametrize(("path", "value", "field"), BAD_VALUES)
def test_checkout_validation_rule(api: ApiClient, path: str, value: Any, field: str) -> None:
    body = seed_body()
    *parents, last = path.split(".")
    target: Any = body
    for key in parents:
        target = target[key]
    target[last] = value

    response = api.post("/v1/checkouts", body)

    _assert_validation_error(response, field)


MISSING = [
    "completed_redirect_url",
    "canceled_redirect_url",
    "order",
    "order.merchant_order_id",
    "order.currency",
    "order.country_code",
    "order.subtotal_amount",
    "order.total_amount",
    "order.products",
    "order.customer",
    "order.customer.last_name",
    "order.customer.email",
]


@pytest.mark.parametrize("path", MISSING)
def test_checkout_required_field(api: ApiClient, path: str) -> None:
    body = seed_body()
    _remove(body, path)

    _assert_validation_error(api.post("/v1/checkouts", body), path)


PRODUCT_RULES = [
    ({"quantity": 0}, "order.products[0].quantity"),
    ({"quantity": 1.5}, "order.products[0].quantity"),
    ({"unit_price": -1}, "order.products[0].unit_price"),
    ({"unit_price": 10.001}, "order.products[0].unit_price"),
    ({"name": None}, "order.products[0].name"),
    ({"id": None}, "order.products[0]"),
]


@pytest.mark.parametrize(("changes", "field"), PRODUCT_RULES)
def test_checkout_product_rule(api: ApiClient, changes: dict[str, Any], field: str) -> None:
    body = seed_body()
    product = body["order"]["products"][0]
    for key, value in changes.items():
        if value is None:
            del product[key]
        else:
            product[key] = value

    _assert_validation_error(api.post("/v1/checkouts", body), field)


def test_discount_amount_must_not_be_negative(api: ApiClient) -> None:
    _assert_validation_error(
        api.post("/v1/checkouts", seed_body(discounts=[{"amount": -1}])), "order.discounts[0].amount"
    )


def test_amounts_have_at_most_two_decimals(api: ApiClient) -> None:
    raw = json.dumps(seed_body()).replace('"total_amount": 990', '"total_amount": 990.005')

    _assert_validation_error(api.post("/v1/checkouts", raw), "order.total_amount")


@pytest.mark.parametrize("expires_at", [300000, 1_700_000_000_000, "1900000000000"])
def test_expires_at_must_be_future_epoch_ms(api: ApiClient, expires_at: Any) -> None:
    response = api.post("/v1/checkouts", seed_body(expires_at=expires_at))

    _assert_validation_error(response, "order.expires_at")
    assert response.json()["message"] == "La fecha de vencimiento de la orden no es válida"


def test_body_must_be_a_json_object(api: ApiClient) -> None:
    _assert_validation_error(api.post("/v1/checkouts", "[1, 2]"), "body")
    _assert_validation_error(api.post("/v1/checkouts", "{not json"), "body")


def test_several_errors_are_reported_together(api: ApiClient) -> None:
    body = seed_body(currency="EUR", country_code="MEX")

    response = api.post("/v1/checkouts", body)

    assert response.status_code == 400
    assert {e["field"] for e in response.json()["validation_errors"]} == {"order.currency", "order.country_code"}


def test_english_messages_can_be_chosen(make_fake: Any) -> None:
    api = ApiClient(make_fake(error_language="en"))

    response = api.post("/v1/checkouts", seed_body(currency="EUR"))

    assert response.json()["validation_errors"][0]["message"] == "order.currency must be one of MXN, USD, COP, PEN"


def test_unknown_fields_are_ignored_and_extras_echoed(api: ApiClient) -> None:
    body = seed_body(shipping_address={"line_1": "Calle 1", "city": "CDMX"}, brand_new_field=True)
    body["order"]["products"][0].update(thumbnail_url="https://img.example/1.png", is_digital=False)
    body["unknown_top_level"] = {"x": 1}

    checkout = api.create_checkout(body)

    assert checkout["order"]["shipping_address"] == {"line_1": "Calle 1", "city": "CDMX"}
    assert checkout["order"]["products"][0]["thumbnail_url"] == "https://img.example/1.png"


def test_numeric_strings_only_when_enabled(make_fake: Any) -> None:
    api = ApiClient(make_fake(accept_numeric_strings=True))

    checkout = api.create_checkout(seed_body(total_amount="990.00"))

    assert checkout["order"]["total_amount"] == "990.00"


def test_strict_amounts(make_fake: Any) -> None:
    api = ApiClient(make_fake(strict_amounts=True))
    wrong = seed_body(total_amount=1000, subtotal_amount=1200)

    assert api.post("/v1/checkouts", seed_body()).status_code == 200
    response = api.post("/v1/checkouts", wrong)

    assert response.status_code == 400
    fields = {e["field"] for e in response.json()["validation_errors"]}
    assert fields == {"order.subtotal_amount", "order.total_amount"}


def test_loose_amounts_by_default(api: ApiClient) -> None:
    assert api.post("/v1/checkouts", seed_body(total_amount=1234)).status_code == 200


def test_shipping_and_top_level_customer_id_are_kept(api: ApiClient) -> None:
    body = copy.deepcopy(seed_body(shipping_details={"amount": 99.9}, total_amount=1089.9))
    body["customer_id"] = "cus_0123456789abcdef0123456789abcdef"

    order = api.create_checkout(body)["order"]

    assert order["shipping_details"] == {"amount": 99.9}
    assert order["customer"]["customer_id"] == "cus_0123456789abcdef0123456789abcdef"


def _assert_validation_error(response: Any, field: str) -> None:
    assert response.status_code == 400, response.text
    body = response.json()
    assert body["category"] == "VALIDATION"
    assert body["message"]
    assert body["request_id"]
    assert field in [e["field"] for e in body["validation_errors"]], body
