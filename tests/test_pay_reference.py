"""The pay form's signed reference (issue 12): a bare order id or a forged reference is refused with a 400 before
any query or API call; a genuine but expired one gets an "out of date" page; ``PAY_LINK_MAX_AGE`` (not
``RETURN_LINK_MAX_AGE``) limits pay buttons, for orders and shop objects alike."""

from __future__ import annotations

import re
import uuid
from typing import Any

import pytest
from django.core import signing as django_signing
from django.db import connection
from django.test import Client, override_settings
from django.test.utils import CaptureQueriesContext
from django.urls import reverse

from django_orkestapay import adapters
from django_orkestapay.models import Checkout, Order, OrderStatus
from django_orkestapay.signing import (
    COMPLETED,
    PAY_FIELD,
    PAY_SALT,
    InvalidPayReference,
    load_pay_reference,
    sign_pay_reference,
    sign_return,
)
from django_orkestapay.testing import FakeOrkestaPay
from tests.conftest import make_order, pay_form, signed_ago
from tests.shop.models import Cart
from tests.test_views import data_queries, sqlite_write_locks

pytestmark = pytest.mark.django_db

DAY = 24 * 60 * 60


def post_pay(client: Client, data: dict[str, str], **extra: Any) -> tuple[Any, int]:
    """POST the pay form; return the response and how many data queries it made."""
    with CaptureQueriesContext(connection) as captured:
        response = client.post(reverse("orkestapay:pay"), data, **extra)
    return response, len(data_queries(captured.captured_queries))


# --- signing round trip -------------------------------------------------------------------------------------------


def test_a_pay_reference_names_the_order_and_nothing_else():
    order_id = uuid.uuid4()
    reference = sign_pay_reference(order_id)
    assert load_pay_reference(reference) == order_id
    assert str(order_id) not in reference
    assert django_signing.loads(reference, salt=PAY_SALT) == {"o": order_id.hex}  # no session, no user


@pytest.mark.parametrize(
    ("value", "reason"),
    [
        (None, "missing"),
        ("", "missing"),
        ("x" * 501, "malformed"),
        ("11111111-1111-4111-8111-111111111111", "bad_signature"),
        (django_signing.dumps({"o": uuid.uuid4().hex}), "bad_signature"),  # our SECRET_KEY, no salt
        (django_signing.dumps({"o": "not-hex"}, salt=PAY_SALT), "malformed"),
        (django_signing.dumps(["o"], salt=PAY_SALT), "malformed"),
    ],
    ids=["none", "empty", "too-long", "bare-uuid", "unsalted", "not-a-uuid", "not-a-dict"],
)
def test_load_pay_reference_refuses(value, reason):
    with pytest.raises(InvalidPayReference) as excinfo:
        load_pay_reference(value)
    assert excinfo.value.reason == reason


# --- the pay view refuses, touching nothing -----------------------------------------------------------------------


def forged_references(order: Order) -> dict[str, dict[str, str]]:
    """What an attacker who knows ``order``'s id could post instead of its button's reference."""
    genuine = sign_pay_reference(order.pk)
    other_payload = sign_pay_reference(uuid.uuid4()).split(":", 1)[0]
    return {
        "bare-uuid": {"order": str(order.pk)},
        "bare-hex": {"order": order.pk.hex},
        "bare-uuid-as-object": {"object": str(order.pk)},
        "no-field": {},
        "tampered-payload": {"order": f"{other_payload}:{genuine.split(':', 1)[1]}"},
        "tampered-signature": {"order": genuine[:-2] + ("AA" if not genuine.endswith("AA") else "BB")},
        "unsalted": {"order": django_signing.dumps({"o": order.pk.hex})},
        "shop-object-salt": {"order": django_signing.dumps({"o": order.pk.hex}, salt=adapters.SHOP_OBJECT_SALT)},
        "order-reference-as-object": {"object": genuine},
        "return-link": {"order": sign_return(order_id=order.pk, checkout_id=uuid.uuid4(), side=COMPLETED)},
    }


@pytest.mark.parametrize(
    "case",
    [
        "bare-uuid",
        "bare-hex",
        "bare-uuid-as-object",
        "no-field",
        "tampered-payload",
        "tampered-signature",
        "unsalted",
        "shop-object-salt",
        "order-reference-as-object",
        "return-link",
        "another-secret-key",
    ],
)
def test_a_bare_or_forged_reference_is_400_without_a_query_or_an_api_call(
    case: str, client: Client, orkestapay_settings: dict[str, Any], fake_orkestapay: FakeOrkestaPay
) -> None:
    order = make_order()
    if case == "another-secret-key":
        with override_settings(SECRET_KEY="another-shop-entirely"):
            data = pay_form(order)
    else:
        data = forged_references(order)[case]

    response, queries = post_pay(client, data, headers={"Accept-Language": "en"})

    assert response.status_code == 400
    assert b'data-testid="orkestapay-error"' in response.content
    assert b"<h1>Invalid payment button</h1>" in response.content
    assert b"This payment button is not valid." in response.content
    assert b"out of date" not in response.content
    assert queries == 0
    assert fake_orkestapay.count_requests() == 0
    order.refresh_from_db()
    assert (order.status, Checkout.objects.count()) == (OrderStatus.CREATED, 0)


def test_the_genuine_reference_of_the_same_order_pays(client, orkestapay_settings, fake_orkestapay):
    """The control for the cases above."""
    order = make_order()
    response, queries = post_pay(client, pay_form(order))
    assert response.status_code == 302
    assert queries == 4 + sqlite_write_locks()  # as tests/test_views.py counts a pay
    assert fake_orkestapay.count_requests("POST", "/v1/checkouts") == 1


def test_a_reference_to_an_order_that_does_not_exist_is_404(client, orkestapay_settings, fake_orkestapay):
    response, queries = post_pay(client, {"order": sign_pay_reference(uuid.uuid4())})
    assert response.status_code == 404
    # the locking read that finds nothing (after, on SQLite, the write lock: an UPDATE that matches nothing)
    assert queries == 1 + sqlite_write_locks()
    assert fake_orkestapay.count_requests() == 0


# --- an expired reference: out of date, reload -------------------------------------------------------------------


def test_an_expired_button_says_the_page_is_out_of_date_and_links_back(client, orkestapay_settings, fake_orkestapay):
    order = make_order()
    reference = signed_ago(DAY + 60, lambda: sign_pay_reference(order.pk))
    order_page = "http://testserver/shop/orders/mine/"

    response, queries = post_pay(client, {"order": reference}, headers={"Accept-Language": "en", "Referer": order_page})

    assert response.status_code == 400
    body = response.content.decode()
    assert "This page is out of date" in body
    assert "Reload the page and press it again" in body
    assert re.search(r'<a href="http://testserver/shop/orders/mine/" data-testid="orkestapay-reload">', body)
    assert re.search(r'<a href="/" data-testid="orkestapay-shop-link">', body)
    assert "could not find" not in body
    assert queries == 0
    assert fake_orkestapay.count_requests() == 0
    assert Checkout.objects.count() == 0


@pytest.mark.parametrize("referer", ["https://evil.example/phish", "//evil.example/", "javascript:alert(1)", ""])
def test_the_reload_link_is_offered_only_for_a_page_of_this_site(client, orkestapay_settings, referer):
    reference = signed_ago(DAY + 60, lambda: sign_pay_reference(uuid.uuid4()))
    response, _ = post_pay(client, {"order": reference}, headers={"Referer": referer})
    assert response.status_code == 400
    assert b"orkestapay-reload" not in response.content
    assert b'data-testid="orkestapay-shop-link"' in response.content


def test_a_forged_value_never_gets_the_out_of_date_page(client, orkestapay_settings):
    """Only a genuine signature is told it expired: an old forged value is just invalid."""
    forged = signed_ago(DAY + 60, lambda: django_signing.dumps({"o": uuid.uuid4().hex}))
    response, _ = post_pay(client, {"order": forged}, headers={"Accept-Language": "en"})
    assert response.status_code == 400
    assert b"This payment button is not valid." in response.content


def test_pay_link_max_age_limits_buttons_and_return_link_max_age_does_not(
    client, settings, orkestapay_settings, fake_orkestapay
):
    settings.ORKESTAPAY = {**orkestapay_settings, "RETURN_LINK_MAX_AGE": 60, "PAY_LINK_MAX_AGE": 600}
    fresh, stale = make_order(merchant_order_id="FRESH"), make_order(merchant_order_id="STALE")
    fresh_reference = signed_ago(300, lambda: sign_pay_reference(fresh.pk))
    stale_reference = signed_ago(900, lambda: sign_pay_reference(stale.pk))

    assert post_pay(client, {"order": fresh_reference})[0].status_code == 302  # older than RETURN_LINK_MAX_AGE
    refused = post_pay(client, {"order": stale_reference}, headers={"Accept-Language": "en"})[0]
    assert refused.status_code == 400
    assert b"This page is out of date" in refused.content
    assert fake_orkestapay.count_requests("POST", "/v1/checkouts") == 1


def test_an_expired_shop_object_button_is_out_of_date_not_404(client, orkestapay_settings):
    cart = Cart.objects.create(reference="OLD")
    reference = signed_ago(DAY + 60, lambda: adapters.sign_shop_object(cart))
    response, queries = post_pay(client, {"object": reference}, headers={"Accept-Language": "en"})
    assert response.status_code == 400
    assert b"This page is out of date" in response.content
    assert queries == 0
    assert Order.objects.count() == 0


def test_a_shop_object_button_lives_pay_link_max_age(client, settings, orkestapay_settings):
    settings.ORKESTAPAY = {**orkestapay_settings, "RETURN_LINK_MAX_AGE": 60, "PAY_LINK_MAX_AGE": 600}
    cart = Cart.objects.create(reference="MID")
    assert adapters.load_shop_object(signed_ago(300, lambda: adapters.sign_shop_object(cart))) == cart
    with pytest.raises(InvalidPayReference) as excinfo:
        adapters.load_shop_object(signed_ago(900, lambda: adapters.sign_shop_object(cart)))
    assert excinfo.value.reason == "expired"


def test_the_try_again_button_after_a_failure_carries_a_fresh_reference(client, orkestapay_settings, fake_orkestapay):
    order = make_order()
    fake_orkestapay.inject_fault("POST", "/v1/checkouts", "status", status=500)
    failed = client.post(reverse("orkestapay:pay"), pay_form(order))
    assert failed.status_code == 503
    reference = re.search(rb'name="order" value="([^"]+)"', failed.content).group(1).decode()  # type: ignore[union-attr]
    assert load_pay_reference(reference) == order.pk
    assert client.post(reverse("orkestapay:pay"), {PAY_FIELD: reference}).status_code == 302


def describe_as_empty(cart: Cart) -> adapters.PaymentDescription:
    """An adapter for a cart whose lines were all removed: nothing to pay for."""
    return adapters.PaymentDescription(
        items=[], customer={"first_name": "Ana", "last_name": "López", "email": "ana@example.mx"}
    )


def test_an_empty_carts_refusal_is_logged_as_the_cart_not_as_an_order(
    client, settings, orkestapay_settings, fake_orkestapay, caplog
):
    """The log line named the cart's primary key as an order ("Order 10") although no order exists."""
    settings.ORKESTAPAY = {**orkestapay_settings, "ADAPTER": describe_as_empty}
    cart = Cart.objects.create(reference="EMPTY")
    response, _ = post_pay(client, adapters.pay_fields(cart))
    assert response.status_code == 400
    assert Order.objects.count() == 0
    assert fake_orkestapay.count_requests() == 0
    (line,) = [r.getMessage() for r in caplog.records if "not valid" in r.getMessage()]
    assert line == f"Pay for {Cart._meta.label_lower} {cart.pk}: not valid (amounts or text); no checkout started"
