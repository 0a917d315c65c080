"""The hosted checkout page and its buttons, driven by plain HTTP form posts."""

from __future__ import annotations

from typing import Any
from urllib.parse import parse_qsl, urlsplit

import pytest

from django_orkestapay.testing import FakeOrkestaPay

from .helpers import ApiClient, FakeClock, page_url, seed_body, session

#: The rich profile's shapes and statuses (``test_evidence_profile`` has the evidence profile's).
rich = pytest.mark.orkestapay_profile("rich")


def _press(checkout: dict[str, Any], action: str, **form: str) -> Any:
    return session().post(f"{page_url(checkout)}/{action}", data=form, allow_redirects=False, timeout=5)


def _query(url: str) -> list[tuple[str, str]]:
    return parse_qsl(urlsplit(url).query, keep_blank_values=True)


def test_page_renders_the_order(api: ApiClient) -> None:
    body = seed_body(shipping_details={"amount": 150}, total_amount=1140)
    body["order"]["products"].append(
        {"product_id": "p2", "name": "Cable <HDMI> & más", "quantity": 3, "unit_price": 99.5}
    )
    checkout = api.create_checkout(body)

    page = session().get(page_url(checkout), timeout=5)

    assert page.status_code == 200
    assert page.headers["Content-Type"].startswith("text/html")
    html = page.text
    assert '<html lang="es">' in html
    assert "OrkestaPay (pasarela simulada)" in html
    assert "1366656595193" in html
    assert "john.doe@example.com" in html
    assert "Pantalla TCL Smart TV Serie A3 A343 HD Android TV 40" in html
    assert "Cable &lt;HDMI&gt; &amp; más" in html
    assert "<HDMI>" not in html
    assert "$99.50 MXN" in html
    assert "$1,000.00 MXN" in html
    assert "-$10.00 MXN" in html
    assert "$150.00 MXN" in html
    assert "$1,140.00 MXN" in html
    for button in ("pay-button", "decline-button", "pending-button", "cancel-button"):
        assert f'id="{button}"' in html
    assert "Pagar $990.00 MXN" not in html
    assert "Pagar $1,140.00 MXN" in html
    for action in ("pay", "decline", "pay-pending", "cancel"):
        assert f'action="{page_url(checkout)}/{action}"' in html
    for external in ("<script", "<link", "src=", "url("):
        assert external not in html  # self-contained


@rich
def test_pay_redirects_to_completed_url_keeping_its_query(fake: FakeOrkestaPay, api: ApiClient) -> None:
    checkout = api.create_checkout()

    response = _press(checkout, "pay")

    assert response.status_code == 303
    location = response.headers["Location"]
    assert location.startswith("https://shop.example/complete?orkesta=completed&ref=abc%20def&")
    params = _query(location)
    assert params[:2] == [("orkesta", "completed"), ("ref", "abc def")]
    extra = dict(params[2:])
    assert set(extra) == {"order_id", "payment_id", "checkout_id"}
    assert extra["order_id"] == checkout["order"]["order_id"]
    assert extra["checkout_id"] == checkout["checkout_id"]
    order = api.get(f"/v1/orders/{extra['order_id']}").json()
    assert order["status"] == "COMPLETED"
    assert order["payment_id"] == extra["payment_id"]
    assert order["payments"] == [{"payment_id": extra["payment_id"], "status": "COMPLETED"}]
    payment = api.get(f"/v1/payments/{extra['payment_id']}").json()
    assert payment["status"] == "COMPLETED"
    assert payment["amount"] == {"authorized": 990, "captured": 990, "currency": "MXN"}
    assert payment["payment_source"]["type"] == "CARD"
    assert payment["payment_source"]["card"]["last_four"] == "4242"
    assert payment["payment_source"]["card"]["brand"] == "VISA"
    assert payment["transactions"][0]["type"] == "PURCHASE"
    assert payment["transactions"][0]["status"] == "SUCCESS"


def test_paying_again_replays_the_redirect_without_a_second_payment(fake: FakeOrkestaPay, api: ApiClient) -> None:
    checkout = api.create_checkout()

    first = _press(checkout, "pay").headers["Location"]
    second = _press(checkout, "pay")

    assert second.status_code == 303
    assert second.headers["Location"] == first
    assert len(fake.payments) == 1


@rich
def test_decline_shows_an_error_and_keeps_the_order_open(api: ApiClient) -> None:
    checkout = api.create_checkout()

    response = _press(checkout, "decline")

    assert response.status_code == 200
    assert 'id="payment-error"' in response.text
    assert 'id="pay-button"' in response.text
    order = api.get(f"/v1/orders/{checkout['order']['order_id']}").json()
    assert order["status"] == "CREATED"
    assert [p["status"] for p in order["payments"]] == ["REJECTED"]
    # a retry on the same checkout then succeeds; the list keeps creation order
    assert _press(checkout, "pay").status_code == 303
    payments = api.get(f"/v1/orders/{checkout['order']['order_id']}/payments").json()["content"]
    assert [p["status"] for p in payments] == ["REJECTED", "COMPLETED"]


def test_decline_can_fail_the_order(make_fake: Any) -> None:
    api = ApiClient(make_fake(decline_marks_order_failed=True))
    checkout = api.create_checkout()

    response = _press(checkout, "decline")

    assert 'id="payment-error"' in response.text
    assert 'id="pay-button"' not in response.text
    assert api.get(f"/v1/orders/{checkout['order']['order_id']}").json()["status"] == "FAILED"
    assert _press(checkout, "pay").status_code == 409


def test_decline_card_number_declines(api: ApiClient) -> None:
    checkout = api.create_checkout()

    response = _press(checkout, "pay", card_number="4000 0000 0000 0002")

    assert response.status_code == 200
    assert 'id="payment-error"' in response.text
    assert api.get(f"/v1/orders/{checkout['order']['order_id']}").json()["status"] == "CREATED"


def test_three_ds_challenge_then_approve(api: ApiClient) -> None:
    checkout = api.create_checkout()

    challenge = _press(checkout, "pay", card_number="4000000000002503")
    assert challenge.status_code == 200
    assert 'id="three-ds-challenge"' in challenge.text
    assert 'id="three-ds-complete-button"' in challenge.text
    approved = _press(checkout, "pay", card_number="4000000000002503", three_ds="passed")

    assert approved.status_code == 303
    assert api.get(f"/v1/orders/{checkout['order']['order_id']}").json()["status"] == "COMPLETED"


@rich
def test_pay_pending_redirects_while_the_order_waits(fake: FakeOrkestaPay, api: ApiClient) -> None:
    checkout = api.create_checkout()

    response = _press(checkout, "pay-pending")

    assert response.status_code == 303
    params = dict(_query(response.headers["Location"]))
    assert response.headers["Location"].startswith("https://shop.example/complete?orkesta=completed")
    order = api.get(f"/v1/orders/{params['order_id']}").json()
    assert order["status"] == "PAYMENT_ACTION_REQUIRED"
    payment = api.get(f"/v1/payments/{params['payment_id']}").json()
    assert payment["status"] == "PAYMENT_ACTION_REQUIRED"
    assert payment["payment_source"]["type"] == "SPEI"
    page = session().get(page_url(checkout), timeout=5).text
    assert 'id="checkout-pending"' in page
    assert 'id="pay-button"' not in page

    fake.settle(params["payment_id"])

    assert api.get(f"/v1/orders/{params['order_id']}").json()["status"] == "COMPLETED"
    assert api.get(f"/v1/payments/{params['payment_id']}").json()["amount"]["captured"] == 990


@rich
def test_cancel_redirects_to_canceled_url(api: ApiClient) -> None:
    checkout = api.create_checkout()

    response = _press(checkout, "cancel")

    assert response.status_code == 303
    location = response.headers["Location"]
    assert location.startswith("https://shop.example/cancel?orkesta=canceled&")
    assert dict(_query(location)) == {
        "orkesta": "canceled",
        "order_id": checkout["order"]["order_id"],
        "checkout_id": checkout["checkout_id"],
    }
    assert api.get(f"/v1/orders/{checkout['order']['order_id']}").json()["status"] == "CANCELED"
    assert _press(checkout, "pay").status_code == 409


def test_cancel_can_leave_the_order_created(make_fake: Any) -> None:
    api = ApiClient(make_fake(cancel_marks_order_canceled=False))
    checkout = api.create_checkout()

    assert _press(checkout, "cancel").status_code == 303

    assert api.get(f"/v1/orders/{checkout['order']['order_id']}").json()["status"] == "CREATED"


def test_cancel_after_payment_changes_nothing(api: ApiClient) -> None:
    checkout = api.create_checkout()
    _press(checkout, "pay")

    response = _press(checkout, "cancel")

    assert response.status_code == 409
    assert 'id="checkout-completed"' in response.text
    assert api.get(f"/v1/orders/{checkout['order']['order_id']}").json()["status"] == "COMPLETED"


@rich
def test_expired_checkout_shows_expired_page_and_buttons_do_nothing(make_fake: Any) -> None:
    clock = FakeClock()
    fake = make_fake(clock=clock, checkout_lifetime=60)
    api = ApiClient(fake)
    checkout = api.create_checkout()
    clock.advance(61)

    page = session().get(page_url(checkout), timeout=5)
    pressed = [_press(checkout, action) for action in ("pay", "decline", "pay-pending", "cancel")]

    assert page.status_code == 200
    assert 'id="checkout-expired"' in page.text
    assert 'id="pay-button"' not in page.text
    for response in pressed:
        assert response.status_code == 200
        assert 'id="checkout-expired"' in response.text
    assert fake.payments == {}
    assert api.get(f"/v1/orders/{checkout['order']['order_id']}").json()["status"] == "EXPIRED"


def test_unknown_checkout_is_a_404_page(fake: FakeOrkestaPay) -> None:
    response = session().get(f"{fake.base_url}/checkout/chk_00000000000000000000000000000000", timeout=5)

    assert response.status_code == 404
    assert 'id="checkout-not-found"' in response.text


@pytest.mark.parametrize("action", ["pay", "decline", "cancel", "pay-pending"])
def test_page_requests_are_not_api_requests(fake: FakeOrkestaPay, api: ApiClient, action: str) -> None:
    checkout = api.create_checkout()
    api_calls = fake.count_requests()

    session().get(page_url(checkout), timeout=5)
    session().get(f"{fake.base_url}/favicon.ico", timeout=5)
    _press(checkout, action)
    session().get(f"{fake.base_url}/_fake/health", timeout=5)

    assert fake.count_requests() == api_calls
    assert fake.count_requests(prefix="/checkout/", kind="page") == 2
    assert fake.count_requests(kind="page") == 3
    assert fake.count_requests(kind="control") == 1
    assert fake.count_requests(kind="all") == api_calls + 4


#: What each language's page says, and what the other language's would.
PAGE_WORDS = {
    "es": ["Resumen de la orden", "Pagar $990.00 MXN", "Cancelar y volver a la tienda", "Entorno de pruebas"],
    "en": ["Order summary", "Pay $990.00 MXN", "Cancel and return to the shop", "Test environment"],
}


@pytest.mark.parametrize(
    ("locale", "language"),
    [(None, "es"), ("ES_LATAM", "es"), ("EN_US", "en"), ("en_us", "en"), ("PT_BR", "es"), ("EN_GB", "es")],
)
def test_the_page_follows_the_checkouts_locale(api: ApiClient, locale: str | None, language: str) -> None:
    body = seed_body()
    if locale is None:
        del body["locale"]
    else:
        body["locale"] = locale
    checkout = api.create_checkout(body)

    html = session().get(page_url(checkout), timeout=5).text

    assert f'<html lang="{language}">' in html
    other = "en" if language == "es" else "es"
    assert all(words in html for words in PAGE_WORDS[language])
    assert not any(words in html for words in PAGE_WORDS[other])


def test_an_english_checkout_says_declined_and_expired_in_english(make_fake: Any) -> None:
    clock = FakeClock()
    fake = make_fake(clock=clock, checkout_lifetime=60)
    checkout = ApiClient(fake).create_checkout({**seed_body(), "locale": "EN_US"})

    declined = _press(checkout, "decline")
    three_ds = _press(checkout, "3ds")
    clock.advance(61)
    expired = session().get(page_url(checkout), timeout=5)

    assert "Your card was declined. Try another payment method." in declined.text
    assert "3-D Secure verification" in three_ds.text
    assert "This checkout has expired" in expired.text
    assert '<html lang="en">' in expired.text
