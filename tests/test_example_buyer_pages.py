"""The example shop's buyer pages over real HTTP (scripts/demo's server and its embedded fake): one voice (*tú*) in
the buyer form's errors, a SPEI transfer on its way shown as such on every page (its CLABE, no pay button), and the
success and cancel pages telling the truth about an order that is not paid."""

from __future__ import annotations

import re

import pytest
import requests

from tests.example_shop import ExampleShop, csrf_token
from tests.test_example_project import buy, texts_of

pytestmark = pytest.mark.standalone

TV_URL = "/products/pantalla-tcl-40/"


def test_the_buyer_forms_errors_speak_as_tu_not_usted(example_shop: ExampleShop) -> None:
    session = requests.Session()
    session.headers["Accept-Language"] = "es-MX"
    page = session.get(f"{example_shop.base}{TV_URL}", timeout=10)
    form = {"csrfmiddlewaretoken": csrf_token(page.text), "first_name": "", "last_name": "L" * 101}
    answer = session.post(
        page.url, data={**form, "email": "ana@", "quantity": "0"}, headers={"Referer": page.url}, timeout=10
    )
    too_many = session.post(
        page.url, data={**form, "email": "", "quantity": "11"}, headers={"Referer": page.url}, timeout=10
    )
    not_a_number = session.post(page.url, data={**form, "quantity": "dos"}, headers={"Referer": page.url}, timeout=10)

    text = answer.text + too_many.text + not_a_number.text
    assert "Escribe tu nombre." in text
    assert "Usa como máximo 100 caracteres (este tiene 101)." in text
    assert "Escribe un correo electrónico válido, como ana@example.com." in text
    assert "Escribe tu correo electrónico." in text
    assert "Elige al menos 1." in text
    assert "Puedes comprar como máximo 10 a la vez." in text
    assert "Escribe un número entero, como 1 o 2." in text
    for usted in ("Introduzca", "Asegúrese", "Ingrese"):  # Django's own Spanish
        assert usted not in text


def pending_transfer(example_shop: ExampleShop, session: requests.Session) -> tuple[str, requests.Response]:
    """Buy the TV and choose SPEI on the hosted page; return the order id and the page the buyer lands on."""
    order_id, checkout_url = buy(example_shop, session)
    landed = session.post(f"{checkout_url}/pay-pending", timeout=10)  # follows the completed return
    assert landed.status_code == 200
    assert example_shop.order_status(order_id) == "pending"
    return order_id, landed


def test_a_transfer_on_its_way_shows_its_clabe_and_no_pay_button_on_every_page(example_shop: ExampleShop) -> None:
    session = requests.Session()
    session.headers["Accept-Language"] = "es-MX"
    order_id, landed = pending_transfer(example_shop, session)

    # the app's pending page: what to do, and that it can take hours
    assert "/orkestapay/return/completed/" in landed.url
    assert "Tu pago va en camino" in landed.text
    (clabe,) = texts_of(landed.text, "orkestapay-clabe")
    assert re.fullmatch(r"\d{18}", clabe)
    assert texts_of(landed.text, "orkestapay-instructions-amount") == ["$990.00 MXN"]
    assert "varias horas" in landed.text
    assert landed.headers["Refresh"].startswith("30; url=")
    assert 'data-testid="orkestapay-pay-button"' not in landed.text

    # the shop's order page says the same, and offers no button (pressing it was a 409)
    order_page = session.get(f"{example_shop.base}/orders/{order_id}/", timeout=10)
    assert 'data-testid="orkestapay-in-progress"' in order_page.text
    assert texts_of(order_page.text, "orkestapay-clabe") == [clabe]
    assert 'data-testid="orkestapay-pay-button"' not in order_page.text

    # the success page, reached by hand before the money arrived, does not thank for a purchase
    thanks = session.get(f"{example_shop.base}/thanks/?order={order_id}", timeout=10)
    assert thanks.status_code == 200
    assert 'data-state="in_progress"' in thanks.text
    assert "Tu pago va en camino" in thanks.text
    assert "¡Gracias por tu compra!" not in thanks.text
    assert 'data-testid="orkestapay-pay-button"' not in thanks.text


def test_the_success_page_of_an_unpaid_order_offers_the_pay_button(example_shop: ExampleShop) -> None:
    session = requests.Session()
    session.headers["Accept-Language"] = "en"
    order_id, _ = buy(example_shop, session)  # the hosted page is open; the buyer goes to the thanks URL instead

    thanks = session.get(f"{example_shop.base}/thanks/?order={order_id}", timeout=10)

    assert "This order is not paid yet" in thanks.text
    assert "Thank you for your purchase!" not in thanks.text
    assert 'data-testid="orkestapay-pay-button"' in thanks.text


def test_the_cancel_page_says_what_happened_and_offers_to_try_again(example_shop: ExampleShop) -> None:
    session = requests.Session()
    session.headers["Accept-Language"] = "en"
    order_id, checkout_url = buy(example_shop, session)
    canceled = session.post(f"{checkout_url}/cancel", timeout=10)

    assert canceled.url.startswith(f"{example_shop.base}/canceled/?order={order_id}")
    assert 'data-testid="orkestapay-canceled"' in canceled.text
    assert "You canceled the payment and nothing was charged." in canceled.text
    assert ">Try again</button>" in canceled.text
    assert "Pay with OrkestaPay" not in canceled.text


@pytest.mark.parametrize("query", ["", "?order=", "?order=not-a-uuid", "?order=00000000-0000-0000-0000-000000000000"])
def test_the_success_and_cancel_pages_refuse_an_order_they_cannot_show(example_shop: ExampleShop, query: str) -> None:
    for page in ("thanks", "canceled"):
        assert requests.get(f"{example_shop.base}/{page}/{query}", timeout=10).status_code == 404
