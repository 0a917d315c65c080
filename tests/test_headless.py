"""The JSON endpoints for headless front ends: ``orkestapay:api_pay`` starts a payment from the pay button's signed
reference and answers JSON (its refusals too, with the HTML pay view's status codes); ``orkestapay:api_status``
reports an order's status from the database, and nothing else."""

from __future__ import annotations

import json
import uuid
from typing import Any
from urllib.parse import urlencode

import pytest
from django.conf import settings as django_settings
from django.core import signing as django_signing
from django.db import connection
from django.test import Client
from django.test.utils import CaptureQueriesContext
from django.urls import reverse
from django.utils import translation

from django_orkestapay import adapters, services
from django_orkestapay.models import Checkout, Order, OrderStatus
from django_orkestapay.signing import PAY_FIELD, load_pay_reference, sign_pay_reference
from tests.conftest import (
    assert_leads_to_hosted_page,
    make_order,
    make_paid_order,
    return_read_interval_passed,
    signed_ago,
)
from tests.shop.models import Cart
from tests.test_buyer_state import shows_transfer_details
from tests.test_views import data_queries

pytestmark = pytest.mark.django_db

DAY = 24 * 60 * 60
#: A CSRF secret of the right shape: as the cookie and, unmasked, as the header (what Django's JavaScript recipe does).
CSRF_SECRET = "a" * 32
#: Everything the status endpoint answers: the status, and nothing about the order or its buyer.
STATUS_KEYS = {"status", "status_label", "paid", "payable", "payment", "instructions"}


def csrf_client() -> Client:
    """A client that enforces CSRF like a browser, holding the shop's CSRF cookie."""
    client = Client(enforce_csrf_checks=True)
    client.cookies[django_settings.CSRF_COOKIE_NAME] = CSRF_SECRET
    return client


def post_json(client: Client, body: Any, *, token: str | None = CSRF_SECRET) -> Any:
    """POST ``body`` (JSON-encoded unless already a string) to the JSON pay endpoint, as ``fetch()`` would."""
    data = body if isinstance(body, str) else json.dumps(body)
    headers = {} if token is None else {"X-CSRFToken": token}
    return client.post(reverse("orkestapay:api_pay"), data, content_type="application/json", headers=headers)


def get_status(client: Client, reference: str) -> Any:
    return client.get(reverse("orkestapay:api_status"), {PAY_FIELD: reference})


def refuse_all(request: Any, target: Any) -> bool:
    return False


def allow_all(request: Any, target: Any) -> bool:
    return True


# --- pay: the happy paths -----------------------------------------------------------------------------------------


def test_pay_answers_the_hosted_page_a_reference_and_the_status(orkestapay_settings, fake_orkestapay):
    order = make_order()
    fields = adapters.pay_fields(order)
    assert set(fields) == {PAY_FIELD}
    assert load_pay_reference(fields[PAY_FIELD]) == order.pk
    response = post_json(csrf_client(), fields)
    assert response.status_code == 200
    assert response["Content-Type"] == "application/json"
    assert "no-cache" in response["Cache-Control"]
    body = response.json()
    assert set(body) == {"redirect_url", "order", "status"}
    checkout = Checkout.objects.get(order=order)
    assert_leads_to_hosted_page(body["redirect_url"], checkout, fake_orkestapay)
    assert load_pay_reference(body["order"]) == order.pk  # signed, so the front end can poll or pay again with it
    assert str(order.pk) not in body["order"]
    assert body["status"] == OrderStatus.PENDING
    assert fake_orkestapay.count_requests("POST", "/v1/checkouts") == 1


def test_pay_again_reuses_the_open_checkout(orkestapay_settings, fake_orkestapay):
    order = make_order()
    client = csrf_client()
    first = post_json(client, {PAY_FIELD: sign_pay_reference(order.pk)}).json()
    second = post_json(client, {PAY_FIELD: first["order"]}).json()
    assert second["redirect_url"] == first["redirect_url"]
    assert fake_orkestapay.count_requests("POST", "/v1/checkouts") == 1


def test_pay_for_a_shop_object_makes_its_order(orkestapay_settings, fake_orkestapay):
    cart = Cart.objects.create(reference="H1")
    response = post_json(csrf_client(), adapters.pay_fields(cart))  # what a shop's API hands its front end
    assert response.status_code == 200, response.content
    order = Order.objects.get()
    assert order.shop_object == cart
    assert load_pay_reference(response.json()["order"]) == order.pk


# --- pay: CSRF, method and body -------------------------------------------------------------------------------------


@pytest.mark.parametrize("token", [None, "b" * 32, "not-a-token"], ids=["no-token", "another-token", "malformed"])
def test_pay_without_the_csrf_token_is_a_json_403_and_calls_nobody(orkestapay_settings, fake_orkestapay, token):
    order = make_order()
    response = post_json(csrf_client(), {PAY_FIELD: sign_pay_reference(order.pk)}, token=token)
    assert response.status_code == 403
    assert response.json()["error"] == "csrf_failed"
    assert Checkout.objects.count() == 0
    assert fake_orkestapay.count_requests() == 0


def test_pay_without_the_csrf_cookie_is_a_json_403(orkestapay_settings, fake_orkestapay):
    order = make_order()
    response = post_json(Client(enforce_csrf_checks=True), {PAY_FIELD: sign_pay_reference(order.pk)})
    assert response.status_code == 403
    assert response.json()["error"] == "csrf_failed"
    assert fake_orkestapay.count_requests() == 0


def test_pay_is_post_only(orkestapay_settings, fake_orkestapay):
    order = make_order()
    response = csrf_client().get(reverse("orkestapay:api_pay"), {PAY_FIELD: sign_pay_reference(order.pk)})
    assert response.status_code == 405
    assert response["Allow"] == "POST"
    assert response.json()["error"] == "method_not_allowed"
    assert fake_orkestapay.count_requests() == 0


@pytest.mark.parametrize(
    ("body", "error"),
    [
        ("not json", "invalid_json"),
        ("[1, 2]", "invalid_json"),
        ('"a string"', "invalid_json"),
        ({}, "invalid_reference"),
        ({PAY_FIELD: 42}, "invalid_reference"),
        ({PAY_FIELD: ["x"]}, "invalid_reference"),
        ({"object": None}, "invalid_reference"),
    ],
    ids=["text", "array", "string", "empty-object", "number", "list", "null-object"],
)
def test_pay_with_a_body_that_names_nothing_is_400(orkestapay_settings, fake_orkestapay, body, error):
    response = post_json(csrf_client(), body)
    assert response.status_code == 400
    assert response.json()["error"] == error
    assert response.json()["message"]
    assert fake_orkestapay.count_requests() == 0


@pytest.mark.parametrize("token_in", ["header", "form"])
def test_pay_with_a_form_body_is_400_invalid_json_not_a_server_error(orkestapay_settings, fake_orkestapay, token_in):
    """A multipart (or urlencoded) form with a valid CSRF token: Django's CSRF check reads the form, after which the
    raw body cannot be read (RawPostDataException, a 500 before)."""
    order = make_order()
    form = {PAY_FIELD: sign_pay_reference(order.pk)}
    headers = {"X-CSRFToken": CSRF_SECRET} if token_in == "header" else {}
    if token_in == "form":
        form["csrfmiddlewaretoken"] = CSRF_SECRET
    for body in ({"data": form}, {"data": urlencode(form), "content_type": "application/x-www-form-urlencoded"}):
        response = csrf_client().post(reverse("orkestapay:api_pay"), headers=headers, **body)
        assert response.status_code == 400, response.content
        assert response.json()["error"] == "invalid_json"
    assert Checkout.objects.count() == 0
    assert fake_orkestapay.count_requests() == 0


# --- pay: refused references, before any query -------------------------------------------------------------------


def forged(order: Order) -> dict[str, dict[str, str]]:
    """What someone who knows ``order``'s id could post instead of its button's reference."""
    return {
        "bare-uuid": {PAY_FIELD: str(order.pk)},
        "unsalted": {PAY_FIELD: django_signing.dumps({"o": order.pk.hex})},
        "tampered": {PAY_FIELD: sign_pay_reference(order.pk)[:-2] + "xx"},
        "object-salt-as-order": {PAY_FIELD: adapters.sign_shop_object(order)},
    }


@pytest.mark.parametrize("kind", ["bare-uuid", "unsalted", "tampered", "object-salt-as-order"])
def test_pay_with_a_forged_reference_is_400_before_any_query(orkestapay_settings, fake_orkestapay, kind):
    order = make_order()
    client = csrf_client()
    with CaptureQueriesContext(connection) as captured:
        response = post_json(client, forged(order)[kind])
    assert response.status_code == 400
    assert response.json()["error"] == "invalid_reference"
    assert "status" not in response.json()
    assert data_queries(captured.captured_queries) == []
    assert fake_orkestapay.count_requests() == 0


def test_pay_with_an_expired_reference_is_400_expired(orkestapay_settings, fake_orkestapay):
    order = make_order()
    reference = signed_ago(DAY + 60, lambda: sign_pay_reference(order.pk))
    response = post_json(csrf_client(), {PAY_FIELD: reference})
    assert response.status_code == 400
    assert response.json()["error"] == "expired_reference"
    assert Checkout.objects.count() == 0


# --- pay: the HTML view's status codes ------------------------------------------------------------------------------


def gateway_down(fake: Any) -> Order:
    fake.inject_fault("POST", "/v1/checkouts", "status", status=503)
    return make_order()


def paid(fake: Any) -> Order:
    return make_paid_order(fake)


def vanished(fake: Any) -> Order:
    order = make_order()
    Order.objects.filter(pk=order.pk).delete()
    return order


def payment_in_progress(fake: Any) -> Order:
    order = make_order()
    checkout = services.start_checkout(order, build_absolute_uri=lambda path: f"https://shop.example{path}")
    fake.pay_pending(checkout.orkestapay_checkout_id)
    services.sync_order(order)
    return order


@pytest.mark.parametrize(
    ("situation", "status", "error"),
    [
        (gateway_down, 503, "service_unavailable"),
        (paid, 409, "nothing_to_pay"),
        (vanished, 404, "order_not_found"),
        (payment_in_progress, 409, "payment_in_progress"),
    ],
    ids=["gateway-down", "paid", "vanished", "payment-in-progress"],
)
def test_a_refusal_has_the_html_views_status_and_a_stable_code(
    orkestapay_settings, fake_orkestapay, situation, status, error
):
    order = situation(fake_orkestapay)
    html = Client().post(reverse("orkestapay:pay"), {PAY_FIELD: sign_pay_reference(order.pk)})
    if situation is gateway_down:
        fake_orkestapay.inject_fault("POST", "/v1/checkouts", "status", status=503)
    response = post_json(csrf_client(), {PAY_FIELD: sign_pay_reference(order.pk)})
    assert html.status_code == response.status_code == status
    body = response.json()
    assert body["error"] == error
    assert body["message"]
    if situation is not vanished:
        order.refresh_from_db()
        assert body["status"] == order.status  # the order the reference proved, as it stands


def test_the_message_follows_the_active_language(orkestapay_settings, fake_orkestapay):
    order = make_paid_order(fake_orkestapay)
    client = csrf_client()
    body = json.dumps({PAY_FIELD: sign_pay_reference(order.pk)})
    answers = {
        language: client.post(
            reverse("orkestapay:api_pay"),
            body,
            content_type="application/json",
            headers={"X-CSRFToken": CSRF_SECRET, "Accept-Language": language},
        ).json()
        for language in ("en", "es")
    }
    assert answers["en"]["error"] == answers["es"]["error"] == "nothing_to_pay"
    assert answers["en"]["message"] == "This order is already paid or can no longer be paid."
    with translation.override("es"):
        assert answers["es"]["message"] == translation.gettext("This order is already paid or can no longer be paid.")
    assert answers["es"]["message"] != answers["en"]["message"]


# --- pay: the permission hook -------------------------------------------------------------------------------------


def test_the_permission_hook_sees_the_order_and_may_refuse(settings, orkestapay_settings, fake_orkestapay):
    seen: list[tuple[Any, Any]] = []

    def only_staff(request: Any, target: Any) -> bool:
        seen.append((request.method, target))
        return False

    settings.ORKESTAPAY = {**orkestapay_settings, "PAY_PERMISSION": only_staff}
    order = make_order()
    response = post_json(csrf_client(), {PAY_FIELD: sign_pay_reference(order.pk)})
    assert response.status_code == 403
    assert response.json()["error"] == "forbidden"
    assert "status" not in response.json()
    assert seen == [("POST", order)]
    assert Checkout.objects.count() == 0
    assert fake_orkestapay.count_requests() == 0


def test_the_permission_hook_sees_the_shop_object_before_any_order_is_made(
    settings, orkestapay_settings, fake_orkestapay
):
    seen: list[Any] = []

    def remember(request: Any, target: Any) -> bool:
        seen.append(target)
        return False

    settings.ORKESTAPAY = {**orkestapay_settings, "PAY_PERMISSION": remember}
    cart = Cart.objects.create(reference="H2")
    response = post_json(csrf_client(), {"object": adapters.sign_shop_object(cart)})
    assert response.status_code == 403
    assert seen == [cart]
    assert Order.objects.count() == 0


def test_the_permission_hook_by_dotted_path_allows(settings, orkestapay_settings, fake_orkestapay):
    settings.ORKESTAPAY = {**orkestapay_settings, "PAY_PERMISSION": "tests.shop.adapters.allow_staff_or_owner"}
    order = make_order()
    refused = post_json(csrf_client(), {PAY_FIELD: sign_pay_reference(order.pk)})
    assert refused.status_code == 403
    allowed = csrf_client()
    allowed.cookies["shop_owner"] = order.customer_email
    response = post_json(allowed, {PAY_FIELD: sign_pay_reference(order.pk)})
    assert response.status_code == 200, response.content


# --- one rule for the JSON endpoints and the pay button's view ---------------------------------------------------


@pytest.mark.parametrize("paid_for", ["order", "cart"])
def test_a_visitor_refused_at_the_json_endpoint_is_refused_at_the_pay_buttons_view_too(
    settings, orkestapay_settings, fake_orkestapay, paid_for
):
    """A stranger refused at api/pay/ who posts the same signed reference to the button's form view does not land on
    the buyer's hosted checkout (the form view did not ask the rule)."""
    settings.ORKESTAPAY = {**orkestapay_settings, "PAY_PERMISSION": "tests.shop.adapters.allow_staff_or_owner"}
    order = make_order()
    fields = adapters.pay_fields(order if paid_for == "order" else Cart.objects.create(reference="R1"))
    stranger = csrf_client()
    assert post_json(stranger, fields).status_code == 403
    page = stranger.post(reverse("orkestapay:pay"), {**fields, "csrfmiddlewaretoken": CSRF_SECRET})
    assert page.status_code == 403
    assert 'data-testid="orkestapay-error"' in page.text
    assert "No puedes pagar esta orden." in page.text  # "You may not pay for this order.", in the shop's Spanish
    assert Checkout.objects.count() == 0
    assert Order.objects.count() == 1  # a cart's order is made only once the rule says yes
    assert fake_orkestapay.count_requests() == 0


def test_the_pay_buttons_view_asks_the_rule_with_the_request_and_the_order(settings, orkestapay_settings):
    seen: list[tuple[Any, Any]] = []

    def allow(request: Any, target: Any) -> bool:
        seen.append((request.path, target))
        return True

    settings.ORKESTAPAY = {**orkestapay_settings, "PAY_PERMISSION": allow}
    order = make_order()
    response = Client().post(reverse("orkestapay:pay"), adapters.pay_fields(order))
    assert response.status_code == 302, response.content
    assert seen == [(reverse("orkestapay:pay"), order)]


@pytest.mark.parametrize("endpoint", ["pay button", "api pay", "api status"])
def test_the_deprecated_headless_permission_still_guards_all_three(settings, orkestapay_settings, endpoint):
    settings.ORKESTAPAY = {**orkestapay_settings, "HEADLESS_PERMISSION": refuse_all}
    order = make_order()
    reference = sign_pay_reference(order.pk)
    if endpoint == "pay button":
        response = Client().post(reverse("orkestapay:pay"), {PAY_FIELD: reference})
    elif endpoint == "api pay":
        response = post_json(csrf_client(), {PAY_FIELD: reference})
    else:
        response = get_status(Client(), reference)
    assert response.status_code == 403
    assert Checkout.objects.count() == 0


def test_pay_permission_wins_over_its_deprecated_name(settings, orkestapay_settings, fake_orkestapay):
    settings.ORKESTAPAY = {**orkestapay_settings, "PAY_PERMISSION": allow_all, "HEADLESS_PERMISSION": refuse_all}
    response = post_json(csrf_client(), {PAY_FIELD: sign_pay_reference(make_order().pk)})
    assert response.status_code == 200, response.content


# --- status -------------------------------------------------------------------------------------------------------


def test_status_of_a_pending_order(orkestapay_settings, fake_orkestapay):
    order = make_order()
    reference = post_json(csrf_client(), {PAY_FIELD: sign_pay_reference(order.pk)}).json()["order"]
    response = get_status(Client(), reference)
    assert response.status_code == 200
    assert "no-cache" in response["Cache-Control"]
    assert response.json() == {
        "status": "pending",
        "status_label": "Pago pendiente",  # the active language's (the test project's default is Spanish)
        "paid": False,
        "payable": True,
        "payment": "payable",
        "instructions": None,
    }


def test_status_of_a_transfer_on_its_way_says_so_and_how_to_finish_it(orkestapay_settings, fake_orkestapay):
    """The order is pending, as for a buyer who has not paid yet; what the front end must show differs: no pay
    button (a new checkout would be refused), and the transfer's details, never its amount."""
    order = payment_in_progress(fake_orkestapay)

    answer = get_status(Client(), sign_pay_reference(order.pk)).json()

    assert (answer["status"], answer["paid"], answer["payable"], answer["payment"]) == (
        "pending",
        False,
        False,
        "in_progress",
    )
    assert set(answer["instructions"]) == {"kind", "clabe", "reference", "bank", "expires_at"}
    assert answer["instructions"]["kind"] == "transfer"
    if shows_transfer_details(fake_orkestapay):
        assert len(answer["instructions"]["clabe"]) == 18  # the rich fake's (invented) payment_source.spei.clabe
    else:
        assert answer["instructions"]["clabe"] == ""
    assert str(order.total_amount) not in json.dumps(answer)
    assert "990" not in json.dumps(answer)


def test_status_of_a_paid_order_is_one_query_and_no_api_call(orkestapay_settings, fake_orkestapay):
    order = make_paid_order(fake_orkestapay)
    calls_before = fake_orkestapay.count_requests()
    with CaptureQueriesContext(connection) as captured:
        response = get_status(Client(), sign_pay_reference(order.pk))
    assert response.json()["paid"] is True
    assert response.json()["payable"] is False
    assert len(data_queries(captured.captured_queries)) == 1
    assert fake_orkestapay.count_requests() == calls_before


def test_polling_a_pending_order_reads_orkestapay_at_most_once_per_interval(orkestapay_settings, fake_orkestapay):
    order = make_order()
    checkout = services.start_checkout(order, build_absolute_uri=lambda path: f"https://shop.example{path}")
    reference = sign_pay_reference(order.pk)
    reads = lambda: fake_orkestapay.count_requests("GET", f"/v1/orders/{checkout.orkestapay_order_id}")  # noqa: E731
    assert get_status(Client(), reference).json()["status"] == "pending"
    assert reads() == 1
    fake_orkestapay.pay(checkout.orkestapay_checkout_id)
    for _ in range(5):  # inside the interval: the database answers, OrkestaPay is not asked again
        assert get_status(Client(), reference).json()["status"] == "pending"
    assert reads() == 1
    return_read_interval_passed(order)
    assert get_status(Client(), reference).json()["status"] == "paid"
    assert reads() == 2
    assert get_status(Client(), reference).json()["status"] == "paid"  # final: the database answers
    assert reads() == 2


def test_status_of_someone_elses_order_tells_the_status_and_nothing_more(orkestapay_settings, fake_orkestapay):
    order = make_paid_order(fake_orkestapay, customer={"first_name": "Eva", "last_name": "Ruiz", "email": "eva@x.mx"})
    stranger = Client()  # another browser: no session, no cookie; only the forwarded reference
    response = get_status(stranger, sign_pay_reference(order.pk))
    assert set(response.json()) == STATUS_KEYS
    text = response.content.decode()
    for secret in (
        "eva@x.mx",
        "Eva",
        "Ruiz",
        order.merchant_order_id,
        str(order.pk),
        order.pk.hex,
        str(order.total_amount),
        order.orkestapay_order_id,
    ):
        assert secret not in text


@pytest.mark.parametrize("kind", ["bare-uuid", "unsalted", "tampered", "object-salt-as-order"])
def test_status_with_a_forged_reference_is_400_before_any_query(kind):
    order = make_order()
    with CaptureQueriesContext(connection) as captured:
        response = get_status(Client(), forged(order)[kind][PAY_FIELD])
    assert response.status_code == 400
    assert response.json()["error"] == "invalid_reference"
    assert set(response.json()) == {"error", "message"}
    assert data_queries(captured.captured_queries) == []


def test_status_without_a_reference_is_400():
    response = Client().get(reverse("orkestapay:api_status"))
    assert response.status_code == 400
    assert response.json()["error"] == "invalid_reference"


def test_status_with_an_expired_reference_is_400_expired():
    order = make_order()
    response = get_status(Client(), signed_ago(DAY + 60, lambda: sign_pay_reference(order.pk)))
    assert response.status_code == 400
    assert response.json()["error"] == "expired_reference"
    assert "status" not in response.json()


def test_status_of_an_order_that_does_not_exist_is_404():
    response = get_status(Client(), sign_pay_reference(uuid.uuid4()))
    assert response.status_code == 404
    assert response.json()["error"] == "order_not_found"


def test_status_is_get_only():
    order = make_order()
    response = Client().post(reverse("orkestapay:api_status"), {PAY_FIELD: sign_pay_reference(order.pk)})
    assert response.status_code == 405
    assert response["Allow"] == "GET"
    assert response.json()["error"] == "method_not_allowed"


def test_status_asks_the_permission_hook(settings):
    order = make_order()
    settings.ORKESTAPAY = {**settings.ORKESTAPAY, "PAY_PERMISSION": refuse_all}
    response = get_status(Client(), sign_pay_reference(order.pk))
    assert response.status_code == 403
    assert set(response.json()) == {"error", "message"}
