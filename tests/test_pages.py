"""The app's own buyer pages (issue 12): every one offers a way back to the shop (``SHOP_URL``), and every one
extends ``django_orkestapay/base.html``, which a shop overrides to wrap them in its own header and footer (here:
``tests/page_templates``, built exactly as the documentation's recipe says: docs/pages.rst)."""

from __future__ import annotations

import re
import uuid
from collections.abc import Callable
from pathlib import Path
from typing import Any

import pytest
from django.test import Client
from django.urls import reverse

from django_orkestapay import services
from django_orkestapay.models import Checkout, Order
from django_orkestapay.signing import sign_pay_reference
from django_orkestapay.testing import FakeOrkestaPay
from tests.conftest import hosted_page_post, local_path, make_order, make_paid_order, pay_form, signed_ago

pytestmark = pytest.mark.django_db(transaction=True)

OVERRIDE_DIR = Path(__file__).resolve().parent / "page_templates"
BASE_TEMPLATE = "django_orkestapay/base.html"
DAY = 24 * 60 * 60


def pay(client: Client, order: Order) -> Any:
    return client.post(reverse("orkestapay:pay"), pay_form(order))


def invalid_return_link(client: Client, fake: FakeOrkestaPay) -> Any:
    return client.get(reverse("orkestapay:completed"))


def invalid_pay_button(client: Client, fake: FakeOrkestaPay) -> Any:
    return client.post(reverse("orkestapay:pay"), {"order": str(make_order().pk)})


def out_of_date(client: Client, fake: FakeOrkestaPay) -> Any:
    order = make_order()
    return client.post(reverse("orkestapay:pay"), {"order": signed_ago(2 * DAY, lambda: sign_pay_reference(order.pk))})


def order_not_found(client: Client, fake: FakeOrkestaPay) -> Any:
    return client.post(reverse("orkestapay:pay"), {"order": sign_pay_reference(uuid.uuid4())})


def nothing_to_pay(client: Client, fake: FakeOrkestaPay) -> Any:
    return pay(client, make_paid_order(fake))


def cannot_be_paid(client: Client, fake: FakeOrkestaPay) -> Any:
    order = make_order()
    Order.objects.filter(pk=order.pk).update(total_amount="1.00")
    return pay(client, order)


def service_unavailable(client: Client, fake: FakeOrkestaPay) -> Any:
    fake.inject_fault("POST", "/v1/checkouts", "status", status=503)
    return pay(client, make_order())


def confirming_payment(client: Client, fake: FakeOrkestaPay) -> Any:
    completed_url = hosted_page_post(pay(client, make_order())["Location"], "pay").headers["Location"]
    fake.inject_fault("GET", "/v1/orders/*", "status", status=503)
    return client.get(local_path(completed_url))


def pending(client: Client, fake: FakeOrkestaPay) -> Any:
    order = make_order()
    pay(client, order)
    return client.get(local_path(Checkout.objects.get(order=order).completed_url))


def canceled(client: Client, fake: FakeOrkestaPay) -> Any:
    return client.get(local_path(hosted_page_post(pay(client, make_order())["Location"], "cancel").headers["Location"]))


def paid(client: Client, fake: FakeOrkestaPay) -> Any:
    return client.get(local_path(hosted_page_post(pay(client, make_order())["Location"], "pay").headers["Location"]))


#: Every page the app renders for buyers, and its status code.
PAGES: dict[str, tuple[Callable[[Client, FakeOrkestaPay], Any], int]] = {
    "invalid-return-link": (invalid_return_link, 400),
    "invalid-pay-button": (invalid_pay_button, 400),
    "out-of-date": (out_of_date, 400),
    "order-not-found": (order_not_found, 404),
    "nothing-to-pay": (nothing_to_pay, 409),
    "cannot-be-paid": (cannot_be_paid, 400),
    "service-unavailable": (service_unavailable, 503),
    "confirming-payment": (confirming_payment, 503),
    "pending": (pending, 200),
    "canceled": (canceled, 200),
    "paid": (paid, 200),
}


def open_page(name: str, client: Client, fake: FakeOrkestaPay) -> Any:
    page, status = PAGES[name]
    response = page(client, fake)
    assert response.status_code == status, response.content[:500]
    return response


def shop_link(response: Any) -> str:
    found = re.findall(r'<a href="([^"]*)" data-testid="orkestapay-shop-link">', response.content.decode())
    assert len(found) == 1, response.content.decode()
    return str(found[0])


@pytest.mark.parametrize("name", PAGES)
def test_every_page_links_back_to_the_shop_and_extends_the_base_template(
    name: str, client: Client, orkestapay_settings: dict[str, Any], fake_orkestapay: FakeOrkestaPay
) -> None:
    response = open_page(name, client, fake_orkestapay)
    assert shop_link(response) == "/"
    assert BASE_TEMPLATE in [template.name for template in response.templates]


@pytest.mark.parametrize(
    ("shop_url", "expected"),
    [
        ("/tienda/", "/tienda/"),
        ("https://shop.example/", "https://shop.example/"),
        ("admin:index", "/admin/"),
        ("shop:nope", "/"),  # does not reverse (orkestapay.E008): the page still renders, linking to /
        (None, "/"),
    ],
)
@pytest.mark.parametrize("name", ["invalid-return-link", "canceled"])
def test_shop_url_sets_the_link(
    name: str,
    shop_url: str | None,
    expected: str,
    client: Client,
    settings: Any,
    orkestapay_settings: dict[str, Any],
    fake_orkestapay: FakeOrkestaPay,
) -> None:
    settings.ORKESTAPAY = {**orkestapay_settings, "SHOP_URL": shop_url}
    assert shop_link(open_page(name, client, fake_orkestapay)) == expected


@pytest.mark.parametrize("name", PAGES)
def test_a_shop_override_of_the_base_template_wraps_every_page(
    name: str, client: Client, settings: Any, orkestapay_settings: dict[str, Any], fake_orkestapay: FakeOrkestaPay
) -> None:
    settings.TEMPLATES = [{**settings.TEMPLATES[0], "DIRS": [OVERRIDE_DIR]}]
    response = open_page(name, client, fake_orkestapay)
    body = response.content.decode()
    used = [template.origin.name for template in response.templates if template.name == BASE_TEMPLATE]
    assert used == [str(OVERRIDE_DIR / BASE_TEMPLATE)]
    assert 'data-testid="test-shop-header"' in body
    assert 'data-testid="test-shop-footer"' in body
    main = body.split('<main data-testid="test-shop-main">', 1)[1].split("</main>", 1)[0]
    assert 'data-testid="orkestapay-shop-link"' in main  # the page's content, inside the shop's layout
    assert re.search(r"<title>[^<]+ \| Test Shop</title>", body)  # the page's title, in the shop's title
    assert "orkestapay.css" not in body  # the override left orkestapay_head empty


def test_the_return_page_of_a_refunded_order_says_refunded(client, orkestapay_settings, fake_orkestapay):
    order = make_order()
    completed_url = local_path(hosted_page_post(pay(client, order)["Location"], "pay").headers["Location"])
    assert client.get(completed_url, headers={"Accept-Language": "en"}).status_code == 200
    order.refresh_from_db()
    services.refund_order(order)  # everything (a refund in OrkestaPay's portal shows only in the rich profile)
    assert Order.objects.get(pk=order.pk).status == "refunded"

    page = client.get(completed_url, headers={"Accept-Language": "en"}).content.decode()
    assert 'data-testid="orkestapay-refunded"' in page
    assert "This order was refunded." in page
    assert "Your payment was received" not in page
    assert "$990.00 MXN" in page  # the total, written the one way buyers see money
