"""The evidence profile's answers (``testing.profiles``, ``testing.evidence``): the guide's shapes, only CREATED and
COMPLETED orders, the event-types payment object, the events a source documents, ``{request_id, message}`` errors."""

from __future__ import annotations

import re
from typing import Any
from urllib.parse import parse_qsl, urlsplit

import pytest

from django_orkestapay.client import evidence
from django_orkestapay.testing import CheckoutExpired, FakeOrkestaPay
from django_orkestapay.testing.profiles import EVENT_PAYMENT_KEYS, GUIDE_CHECKOUT_KEYS, GUIDE_ORDER_KEYS

from .helpers import ApiClient, FakeClock, WebhookReceiver, page_url, seed_body, session

pytestmark = pytest.mark.orkestapay_profile("evidence")

CARD_KEYS = {
    "bin", "brand", "card_type", "expiration_month", "expiration_year", "holder_name", "holder_last_name",
    "issuer_bank_name", "last_four", "one_time_use",
}  # fmt: skip
TRANSACTION_KEYS = {
    "transaction_id", "type", "status", "code", "message", "amount", "authorization_code", "description",
    "created_at", "provider",
}  # fmt: skip


def params(url: str) -> list[tuple[str, str]]:
    return parse_qsl(urlsplit(url).query, keep_blank_values=True)


def payment_of(url: str) -> str:
    return dict(params(url))["payment_id"]


def order_of(api: ApiClient, checkout: dict[str, Any]) -> dict[str, Any]:
    response = api.get(f"/v1/orders/{checkout['order']['order_id']}")
    assert response.status_code == 200
    result: dict[str, Any] = response.json()
    return result


# the create answer, the checkout read and the hosted page's URL --------------------------------------------------


def test_the_create_answer_is_the_guides(fake: FakeOrkestaPay, api: ApiClient) -> None:
    checkout = api.create_checkout(seed_body(shipping_details={"amount": 50}, total_amount=1040))

    assert list(checkout) == [*GUIDE_CHECKOUT_KEYS, "order"]
    assert list(checkout["order"]) == list(GUIDE_ORDER_KEYS)  # no created_at, updated_at, payments, echoed extras
    assert checkout["order"]["status"] == "CREATED"
    assert re.fullmatch(r"\d{13}", checkout["order"]["expires_at"])
    url = rf"{re.escape(fake.base_url)}/#/checkout/{checkout['checkout_id']}/[0-9a-f]{{64}}"
    assert re.fullmatch(url, checkout["checkout_redirect_url"])


def test_the_checkout_read_carries_its_id_and_redirect_url_only(api: ApiClient) -> None:
    checkout = api.create_checkout()

    read = api.get(f"/v1/checkouts/{checkout['checkout_id']}").json()

    assert read == {"checkout_id": checkout["checkout_id"], "checkout_redirect_url": checkout["checkout_redirect_url"]}


def test_the_guides_url_opens_the_hosted_page(fake: FakeOrkestaPay, api: ApiClient) -> None:
    checkout = api.create_checkout()

    shell = session().get(f"{fake.base_url}/", timeout=5)
    page = session().get(page_url(checkout), timeout=5)

    assert page_url(checkout) == f"{fake.base_url}/checkout/{checkout['checkout_id']}"
    assert shell.status_code == 200
    assert 'location.replace("checkout/"+m[1])' in shell.text  # the fragment names the checkout to forward to
    assert fake.count_requests(kind="api") == 2  # the token and the checkout: the page is not the API
    assert page.status_code == 200
    assert f'action="{page_url(checkout)}/pay"' in page.text


# orders ------------------------------------------------------------------------------------------------------


def test_the_order_read_is_the_guides_order_without_payments(fake: FakeOrkestaPay, api: ApiClient) -> None:
    checkout = api.create_checkout()
    fake.pay(checkout["checkout_id"])

    order = order_of(api, checkout)

    assert list(order) == list(GUIDE_ORDER_KEYS)
    assert not {"payments", "payment_id"} & set(order)
    assert order["status"] == "COMPLETED"
    assert (order["total_amount"], order["currency"]) == (990, "MXN")


def test_the_order_read_can_carry_only_its_id_and_status(fake: FakeOrkestaPay, api: ApiClient) -> None:
    fake.order_read_fields = "status_only"
    checkout = api.create_checkout()

    created = api.get(f"/v1/orders/{checkout['order']['order_id']}").json()

    assert created == {"order_id": checkout["order"]["order_id"], "status": "CREATED"}
    assert list(checkout["order"]) == list(GUIDE_ORDER_KEYS)  # the create answer keeps the guide's order
    assert fake.get_order(checkout["order"]["order_id"]) == created


def test_a_declined_card_a_cancel_and_a_pending_transfer_leave_the_order_created(
    fake: FakeOrkestaPay, api: ApiClient
) -> None:
    declined, canceled, pending = api.create_checkout(), api.create_checkout(), api.create_checkout()

    fake.decline(declined["checkout_id"])
    cancel_url = fake.cancel(canceled["checkout_id"])
    pending_url = fake.pay_pending(pending["checkout_id"])

    assert [order_of(api, c)["status"] for c in (declined, canceled, pending)] == ["CREATED"] * 3
    assert len(fake.payments) == 2  # the decline and the transfer: a cancel creates no payment
    assert api.get(f"/v1/payments/{payment_of(pending_url)}").json()["status"] == "PAYMENT_ACTION_REQUIRED"
    assert cancel_url == "https://shop.example/cancel?orkesta=canceled"  # no parameters on the cancel side
    assert fake.pay(pending["checkout_id"]) == pending_url  # the page does not take a second payment meanwhile
    assert len(fake.payments) == 2


def test_a_settled_transfer_completes_the_order_and_refunds_leave_it_completed(
    fake: FakeOrkestaPay, api: ApiClient
) -> None:
    checkout = api.create_checkout()
    payment_id = payment_of(fake.pay_pending(checkout["checkout_id"]))

    fake.settle(payment_id)
    completed = order_of(api, checkout)["status"]
    partial = api.post(f"/v1/payments/{payment_id}/refund", {"amount": 90})
    partly_refunded = order_of(api, checkout)["status"]
    rest = api.post(f"/v1/payments/{payment_id}/refund", {"amount": 900})
    over = api.post(f"/v1/payments/{payment_id}/refund", {"amount": 0.01})

    assert (partial.status_code, rest.status_code) == (200, 200)
    assert [completed, partly_refunded, order_of(api, checkout)["status"]] == ["COMPLETED"] * 3
    assert over.status_code == 400  # the fake still knows the balance it does not show
    assert set(over.json()) == {"request_id", "message"}


def test_expiry_leaves_the_order_created_and_the_page_closed(make_fake: Any) -> None:
    clock = FakeClock()
    fake = make_fake(clock=clock, checkout_lifetime=60)
    api = ApiClient(fake)
    checkout, pending = api.create_checkout(), api.create_checkout()
    pending_payment = payment_of(fake.pay_pending(pending["checkout_id"]))
    expires_at = str(int((clock.now + 60) * 1000))
    clock.advance(61)

    page = session().get(page_url(checkout), timeout=5)
    with pytest.raises(CheckoutExpired):
        fake.pay(checkout["checkout_id"])

    assert 'id="checkout-expired"' in page.text
    assert order_of(api, checkout)["status"] == "CREATED"
    assert order_of(api, checkout)["expires_at"] == expires_at
    fake.settle(pending_payment)  # a transfer already under way may still arrive
    assert order_of(api, pending)["status"] == "COMPLETED"


def test_expire_checkout_moves_expires_at_only(fake: FakeOrkestaPay, api: ApiClient) -> None:
    checkout = api.create_checkout()

    fake.expire_checkout(checkout["checkout_id"])

    order = order_of(api, checkout)
    assert order["status"] == "CREATED"
    assert int(order["expires_at"]) < int(checkout["order"]["expires_at"])
    with pytest.raises(CheckoutExpired):
        fake.pay(checkout["checkout_id"])


# payments ----------------------------------------------------------------------------------------------------


def test_an_orders_payments_are_ids_only(fake: FakeOrkestaPay, api: ApiClient) -> None:
    checkout = api.create_checkout()
    declined = fake.state.decline(checkout["checkout_id"])
    paid = payment_of(fake.pay(checkout["checkout_id"]))

    listed = api.get(f"/v1/orders/{checkout['order']['order_id']}/payments").json()

    order_id = checkout["order"]["order_id"]
    assert listed == {
        "content": [{"payment_id": declined, "order_id": order_id}, {"payment_id": paid, "order_id": order_id}]
    }


def test_a_paid_payment_is_the_event_types_object(fake: FakeOrkestaPay, api: ApiClient) -> None:
    checkout = api.create_checkout()
    payment_id = payment_of(fake.pay(checkout["checkout_id"]))

    payment = api.get(f"/v1/payments/{payment_id}").json()

    assert list(payment) == list(EVENT_PAYMENT_KEYS)
    assert payment["status"] == "COMPLETED"
    assert payment["amount"] == {"authorized": 990, "currency": "MXN"}
    assert set(payment["payment_source"]) == {"type", "payment_method_id", "settings", "card"}
    assert set(payment["payment_source"]["card"]) == CARD_KEYS
    [charge] = payment["transactions"]
    assert set(charge) == TRANSACTION_KEYS
    assert (charge["type"], charge["status"], charge["code"], charge["amount"]) == (
        "AUTHORIZE",
        "SUCCESS",
        "APPROVED",
        990,
    )


def test_declined_and_pending_payments_show_no_transaction(fake: FakeOrkestaPay, api: ApiClient) -> None:
    declined = fake.state.decline(api.create_checkout()["checkout_id"])
    pending = payment_of(fake.pay_pending(api.create_checkout()["checkout_id"]))

    rejected = api.get(f"/v1/payments/{declined}").json()
    waiting = api.get(f"/v1/payments/{pending}").json()

    assert (rejected["status"], rejected["amount"], rejected["transactions"]) == (
        "REJECTED",
        {"authorized": 0, "currency": "MXN"},
        [],
    )
    assert (waiting["status"], waiting["transactions"]) == ("PAYMENT_ACTION_REQUIRED", [])
    assert set(waiting["payment_source"]) == {"type", "payment_method_id"}  # no invented CLABE
    assert waiting["payment_source"]["type"] == "SPEI"
    fake.settle(pending)
    settled = api.get(f"/v1/payments/{pending}").json()
    assert (settled["status"], settled["amount"]["authorized"]) == ("COMPLETED", 990)
    assert [t["type"] for t in settled["transactions"]] == ["AUTHORIZE"]


def test_a_refund_changes_nothing_a_payment_shows_but_its_updated_at(make_fake: Any) -> None:
    clock = FakeClock()
    fake = make_fake(clock=clock)
    api = ApiClient(fake)
    payment_id = payment_of(fake.pay(api.create_checkout()["checkout_id"]))
    before = api.get(f"/v1/payments/{payment_id}").json()
    clock.advance(5)

    api.post(f"/v1/payments/{payment_id}/refund", {"amount": 100})
    fake.refund_from_portal(payment_id, 50)

    after = api.get(f"/v1/payments/{payment_id}").json()
    assert after["updated_at"] == str(int(clock.now * 1000)) != before["updated_at"]
    assert {**after, "updated_at": None} == {**before, "updated_at": None}


# refunds, errors, tokens -------------------------------------------------------------------------------------


@pytest.mark.parametrize(
    ("outcome", "status"), [("success", "SUCCESS"), ("pending", "PENDING"), ("declined", "FAILED")]
)
def test_a_refund_answers_its_status_and_the_providers_message(
    fake: FakeOrkestaPay, api: ApiClient, outcome: str, status: str
) -> None:
    payment_id = payment_of(fake.pay(api.create_checkout()["checkout_id"]))
    fake.refund_outcome = outcome

    answer = api.post(f"/v1/payments/{payment_id}/refund", {"amount": 10, "description": "x"}, {"Idempotency-Key": "k"})

    assert answer.status_code == 200
    assert set(answer.json()) == {"status", "provider"}
    assert answer.json()["status"] == status
    assert set(answer.json()["provider"]) == {"message"}
    assert answer.json()["provider"]["message"]


def test_every_api_error_is_a_request_id_and_a_message(fake: FakeOrkestaPay, api: ApiClient) -> None:
    http = session()
    fake.refunds_enabled = False
    payment_id = payment_of(fake.pay(api.create_checkout()["checkout_id"]))
    token_url = f"{fake.base_url}/v1/oauth/tokens"

    refused = [
        api.post("/v1/checkouts", seed_body(currency="XXX")),  # 400 validation
        api.get("/v1/orders/ord_00000000000000000000000000000000"),  # 404
        api.http.delete(f"{fake.base_url}/v1/checkouts", headers=api.headers(), timeout=5),  # 405
        api.post(f"/v1/payments/{payment_id}/refund", {"amount": 10}),  # 400: the merchant setting is off
        http.post(token_url, json={"client_id": fake.client_id, "grant_type": "client_credentials"}, timeout=5),
        http.post(
            token_url, json={"client_id": "x", "client_secret": "y", "grant_type": "client_credentials"}, timeout=5
        ),
        http.get(f"{fake.base_url}/v1/orders/ord_x", headers={"Authorization": "Bearer nope"}, timeout=5),
    ]

    assert [r.status_code for r in refused] == [400, 404, 405, 400, 400, 401, 401]
    for response in refused:
        assert set(response.json()) == {"request_id", "message"}, response.text
        assert all(response.json().values())


def test_the_other_refused_token_bodies_are_kept(fake: FakeOrkestaPay) -> None:
    fake.auth_failure_body = "oauth"

    response = session().get(f"{fake.base_url}/v1/orders/ord_x", headers={"Authorization": "Bearer nope"}, timeout=5)

    assert response.json() == {"error": "invalid_token", "error_description": "Invalid or expired access token"}


def test_tokens_merchant_settings_and_brands_are_as_evidenced(fake: FakeOrkestaPay, api: ApiClient) -> None:
    token = session().post(
        f"{fake.base_url}/v1/oauth/tokens",
        json={"client_id": fake.client_id, "client_secret": fake.client_secret, "grant_type": "client_credentials"},
        timeout=5,
    )

    assert set(token.json()) == {"token_type", "expires_in", "access_token"}
    assert api.get("/v1/merchants/settings?id=AVAILABLE_REFUND_BY_ECOMMERCE").json() == {
        "custom_settings": {"AVAILABLE_REFUND_BY_ECOMMERCE": True}
    }
    assert all(set(brand) == {"brand", "logo"} for brand in api.get("/v1/merchants/providers/brands").json())


# the return and the webhooks ---------------------------------------------------------------------------------


def test_the_completed_return_carries_order_id_and_payment_id(fake: FakeOrkestaPay, api: ApiClient) -> None:
    checkout = api.create_checkout()

    response = session().post(f"{page_url(checkout)}/pay", allow_redirects=False, timeout=5)

    assert response.status_code == 303
    query = params(response.headers["Location"])
    assert [name for name, _ in query] == ["orkesta", "ref", "order_id", "payment_id"]
    assert dict(query)["order_id"] == checkout["order"]["order_id"]


def test_events_are_only_the_documented_ones(fake: FakeOrkestaPay, api: ApiClient, receiver: WebhookReceiver) -> None:
    fake.add_webhook_endpoint(receiver.url)
    fake.refund_outcome = "pending"
    fake.decline(api.create_checkout()["checkout_id"])
    fake.cancel(api.create_checkout()["checkout_id"])
    paid = payment_of(fake.pay(api.create_checkout()["checkout_id"]))
    transfer = payment_of(fake.pay_pending(api.create_checkout()["checkout_id"]))
    fake.settle(transfer)
    api.post(f"/v1/payments/{paid}/refund", {"amount": 10})  # pending: nothing yet
    pending_refunds = [t for t in fake.state.payments[paid].transactions if t["type"] == "REFUND"]
    fake.settle_refund(pending_refunds[0]["transaction_id"], succeed=False)  # a refund that fails: no event
    fake.refund_from_portal(transfer, 40)

    receiver.wait_for(3)
    assert fake.wait_for_webhooks()

    payloads = receiver.payloads()
    assert [(p["type_event"], p["data"]["payment"]["payment_id"]) for p in payloads] == [
        ("payment.purchase", paid),
        ("payment.purchase", transfer),
        ("payment.refund", transfer),
    ]
    assert all(set(p) == {"data", "type", "type_event", "version"} for p in payloads)
    assert all(list(p["data"]["payment"]) == list(EVENT_PAYMENT_KEYS) for p in payloads)
    assert payloads[2]["data"]["payment"] == api.get(f"/v1/payments/{transfer}").json()


def test_the_fake_answers_the_order_keys_the_app_names_as_the_guides() -> None:
    """The fake keeps its own copy (it imports nothing of the app); the two must not part ways."""
    assert GUIDE_ORDER_KEYS == evidence.GUIDE_ORDER_KEYS
