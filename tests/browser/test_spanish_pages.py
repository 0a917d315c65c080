"""The shop in Spanish (Mexico): chosen with the language switch, or asked for by the browser; the hosted checkout
is Spanish either way. Strings come from the shipped catalogues (example_project/shop/locale/es and
django_orkestapay/locale/es)."""

from __future__ import annotations

import pytest
from playwright.sync_api import Page, expect

from tests.browser.shop_pages import (
    TV_NAME,
    TV_TOTAL,
    UUID,
    PageFactory,
    hosted_checkout_url,
    order_in_query,
    shop_url,
)
from tests.example_shop import ExampleShop


def switch_to_spanish(page: Page) -> str:
    """Choose the Spanish entry of the header's language switch (which submits itself); return its code."""
    switch = page.get_by_test_id("language")
    codes = switch.locator("option").evaluate_all("options => options.map(option => option.value)")
    spanish = [code for code in codes if str(code).startswith("es")]
    assert spanish, f"no Spanish entry in the language switch: {codes}"
    code = str(spanish[0])
    switch.select_option(code)
    expect(page.locator("html")).to_have_attribute("lang", code)
    return code


def buy_tv_in_spanish(page: Page, shop: ExampleShop) -> str:
    """From the (Spanish) product list, buy the TV; return the order id. Checks the Spanish labels on the way."""
    expect(page.locator("h1")).to_have_text("Productos")
    page.get_by_test_id("product-link").filter(has_text=TV_NAME).click()
    expect(page).to_have_url(shop_url(shop, "products/pantalla-tcl-40/"))
    expect(page.locator("label[for=id_first_name]")).to_contain_text("Nombre")
    expect(page.locator("label[for=id_last_name]")).to_contain_text("Apellido")
    # the shop's catalogue wins over Django's own ("Correo Electrónico") because the shop is listed first
    expect(page.locator("label[for=id_email]")).to_contain_text("Correo electrónico")
    expect(page.locator("label[for=id_quantity]")).to_contain_text("Cantidad")
    expect(page.get_by_test_id("buy-button")).to_have_text("Comprar")
    page.get_by_test_id("buy-button").click()
    expect(page).to_have_url(shop_url(shop, f"orders/{UUID}/"))
    expect(page.locator("h1")).to_contain_text("Tu orden")
    expect(page.get_by_test_id("order-status")).to_have_text("Creada")
    expect(page.get_by_test_id("order-total")).to_have_text(TV_TOTAL)
    expect(page.get_by_test_id("orkestapay-pay-button")).to_have_text("Pagar con OrkestaPay")
    return page.url.rstrip("/").rsplit("/", 1)[-1]


def expect_spanish_hosted_checkout(page: Page, shop: ExampleShop) -> None:
    """The fake gateway's hosted page, in Spanish."""
    expect(page).to_have_url(hosted_checkout_url(shop))
    expect(page.locator("html")).to_have_attribute("lang", "es")
    expect(page.locator("#order-summary h2")).to_contain_text("Resumen de la orden")
    expect(page.locator("#pay-button")).to_have_text(f"Pagar {TV_TOTAL}")
    expect(page.locator("#cancel-button")).to_have_text("Cancelar y volver a la tienda")


@pytest.mark.browser
def test_buyer_switches_to_spanish_and_pays(page: Page, shop: ExampleShop) -> None:
    page.goto(f"{shop.base}/")
    expect(page.locator("h1")).to_have_text("Products")  # the browser asks for English
    switch_to_spanish(page)

    order_id = buy_tv_in_spanish(page, shop)
    page.get_by_test_id("orkestapay-pay-button").click()
    expect_spanish_hosted_checkout(page, shop)

    page.locator("#pay-button").click()
    expect(page).to_have_url(shop_url(shop, rf"thanks/\?order={order_id}"))
    assert order_in_query(page) == order_id
    expect(page).to_have_title("Gracias")
    thanks = page.get_by_test_id("shop-thanks")
    expect(thanks.locator("h1")).to_have_text("¡Gracias por tu compra!")
    expect(thanks).to_contain_text("Orden")
    expect(thanks.get_by_test_id("order-status")).to_have_text("Pagada")
    expect(thanks.get_by_role("link")).to_have_text("Seguir comprando")
    assert shop.order_status(order_id) == "paid"


@pytest.mark.browser
def test_spanish_speaking_browser_gets_spanish_pages_and_cancels(new_page: PageFactory, shop: ExampleShop) -> None:
    page = new_page(locale="es-MX")
    page.goto(f"{shop.base}/")
    expect(page.locator("html")).to_have_attribute("lang", "es-mx")

    order_id = buy_tv_in_spanish(page, shop)
    page.get_by_test_id("orkestapay-pay-button").click()
    expect_spanish_hosted_checkout(page, shop)

    page.locator("#cancel-button").click()
    expect(page).to_have_url(shop_url(shop, rf"canceled/\?order={order_id}"))
    expect(page).to_have_title("Pago cancelado")
    canceled = page.get_by_test_id("shop-canceled")
    expect(canceled.locator("h1")).to_have_text("Tu pago no se completó")
    expect(canceled.get_by_test_id("order-status")).to_have_text("Cancelada")
    expect(canceled).to_contain_text("Cancelaste el pago y no se hizo ningún cargo.")
    expect(canceled.get_by_test_id("orkestapay-pay-button")).to_have_text("Intentar de nuevo")
    assert shop.order_status(order_id) == "canceled"
