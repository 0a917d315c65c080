"""The buyer's pages in every state, in a real Chromium at 1280 px and on a 390 px phone: a SPEI transfer on its way
(its CLABE, no pay button, "can take hours"), a declined card, a canceled payment, a payment link sent to another
buyer (opened, paid, then saying paid; revoked), and the buyer form's errors in *tú*.

Each test saves full-page screenshots of what it checks to ``test-artifacts/screenshots/states-*.png``, to look at.
"""

from __future__ import annotations

import re

import pytest
from playwright.sync_api import Page, expect

from tests.browser.conftest import SCREENSHOTS
from tests.browser.shop_pages import (
    TV_TOTAL,
    PageFactory,
    admin_log_in,
    buy_tv,
    checkout_count,
    go_to_hosted_checkout,
    merchant_order_id,
    shop_url,
)
from tests.browser.test_phone import PHONE_HEIGHT, PHONE_WIDTH, assert_fits_the_phone
from tests.browser.test_spanish_pages import buy_tv_in_spanish
from tests.example_shop import ExampleShop

WIDTHS = {"desktop": 1280, "phone": PHONE_WIDTH}


def snap(page: Page, name: str) -> None:
    """Save a full-page screenshot to look at (test-artifacts/screenshots/states-<name>.png)."""
    SCREENSHOTS.mkdir(parents=True, exist_ok=True)
    page.screenshot(path=str(SCREENSHOTS / f"states-{name}.png"), full_page=True)


def open_page(new_page: PageFactory, screen: str, locale: str) -> Page:
    if screen == "phone":
        return new_page(locale, width=PHONE_WIDTH, height=PHONE_HEIGHT, phone=True)
    return new_page(locale, width=1280, height=900)


def buy_and_open_the_hosted_page(
    new_page: PageFactory, shop: ExampleShop, screen: str, locale: str
) -> tuple[Page, str]:
    """A fresh buyer on ``screen`` in ``locale`` buys the TV and presses the pay button; (page, order id)."""
    page = open_page(new_page, screen, locale)
    page.goto(f"{shop.base}/")
    order_id = buy_tv(page, shop) if locale == "en-US" else buy_tv_in_spanish(page, shop)
    go_to_hosted_checkout(page, shop)
    return page, order_id


def fits(page: Page, screen: str) -> None:
    if screen == "phone":
        assert_fits_the_phone(page)


@pytest.mark.browser
@pytest.mark.parametrize(("screen", "locale"), [("desktop", "en-US"), ("phone", "es-MX")])
def test_a_transfer_on_its_way_shows_its_clabe_and_no_pay_button(
    new_page: PageFactory, shop: ExampleShop, screen: str, locale: str
) -> None:
    page, order_id = buy_and_open_the_hosted_page(new_page, shop, screen, locale)
    expect(page.locator("#order-total")).to_have_text(TV_TOTAL)  # the hosted page writes money as the shop does
    snap(page, f"hosted-{screen}")

    page.locator("#pending-button").click()  # "Pay with SPEI (pending)": the buyer will transfer from the bank
    expect(page).to_have_url(re.compile(r"/orkestapay/return/completed/"))
    pending = page.get_by_test_id("orkestapay-return")
    on_its_way = "Your payment is on its way" if locale == "en-US" else "Tu pago va en camino"
    expect(pending.locator("h1")).to_have_text(on_its_way)
    expect(pending.get_by_test_id("orkestapay-clabe")).to_have_text(re.compile(r"^\d{18}$"))
    expect(pending.get_by_test_id("orkestapay-instructions-amount")).to_have_text(TV_TOTAL)
    expect(pending).to_contain_text("several hours" if locale == "en-US" else "varias horas")
    expect(pending.get_by_test_id("orkestapay-recheck")).to_have_attribute("data-seconds", "30")
    expect(page.get_by_test_id("orkestapay-pay-button")).to_have_count(0)
    fits(page, screen)
    snap(page, f"pending-transfer-{screen}")

    page.goto(f"{shop.base}/orders/{order_id}/")  # the shop's order page: the same, and no button
    order = page.get_by_test_id("shop-order")
    expect(order.get_by_test_id("orkestapay-in-progress")).to_be_visible()
    expect(order.get_by_test_id("orkestapay-clabe")).to_have_text(re.compile(r"^\d{18}$"))
    expect(order.get_by_test_id("orkestapay-pay-button")).to_have_count(0)
    fits(page, screen)
    snap(page, f"order-transfer-{screen}")
    assert shop.order_status(order_id) == "pending"
    assert checkout_count(shop, order_id) == 1


@pytest.mark.browser
@pytest.mark.parametrize(("screen", "locale"), [("desktop", "en-US"), ("phone", "es-MX")])
def test_a_declined_card_is_said_on_the_order_page_with_try_again(
    new_page: PageFactory, shop: ExampleShop, screen: str, locale: str
) -> None:
    page, order_id = buy_and_open_the_hosted_page(new_page, shop, screen, locale)
    page.locator("#decline-button").click()
    expect(page.locator("#payment-error")).to_be_visible()
    shop.wait_for_events(order_id, count=1)  # OrkestaPay's payment.cancel: the shop learns of the decline

    page.goto(f"{shop.base}/orders/{order_id}/")
    order = page.get_by_test_id("shop-order")
    declined = "Your payment was declined" if locale == "en-US" else "Tu pago fue rechazado"
    expect(order.get_by_test_id("orkestapay-declined")).to_contain_text(declined)
    try_again = "Try again" if locale == "en-US" else "Intentar de nuevo"
    expect(order.get_by_test_id("orkestapay-pay-button")).to_have_text(try_again)
    fits(page, screen)
    snap(page, f"order-declined-{screen}")


@pytest.mark.browser
@pytest.mark.parametrize(("screen", "locale"), [("desktop", "en-US"), ("phone", "es-MX")])
def test_the_cancel_page_says_what_happened_and_offers_to_try_again(
    new_page: PageFactory, shop: ExampleShop, screen: str, locale: str
) -> None:
    page, order_id = buy_and_open_the_hosted_page(new_page, shop, screen, locale)
    page.locator("#cancel-button").click()

    expect(page).to_have_url(shop_url(shop, rf"canceled/\?order={order_id}"))
    canceled = page.get_by_test_id("shop-canceled")
    said = "You canceled the payment" if locale == "en-US" else "Cancelaste el pago"
    expect(canceled.get_by_test_id("orkestapay-canceled")).to_contain_text(said)
    expect(canceled.get_by_test_id("orkestapay-pay-button")).to_have_count(1)
    fits(page, screen)
    snap(page, f"canceled-{screen}")


@pytest.mark.browser
def test_a_payment_link_sent_to_another_buyer_is_paid_once_and_then_says_paid(
    new_page: PageFactory, shop: ExampleShop
) -> None:
    seller = open_page(new_page, "desktop", "en-US")
    order_id = buy_tv(seller, shop)
    reference = merchant_order_id(shop, order_id)
    admin_log_in(seller, shop)
    seller.goto(f"{shop.base}/admin/orkestapay/order/?q={reference}")
    seller.locator("#result_list input.action-select").check()
    seller.locator("select[name=action]").select_option("create_payment_links")
    seller.locator("button[name=index]").click()
    message = seller.locator(".messagelist .success").filter(has_text="Payment link for order")
    expect(message).to_contain_text(reference)
    url = message.locator("a").get_attribute("href")
    assert url is not None
    assert re.fullmatch(rf"{re.escape(shop.base)}/orkestapay/link/[A-Za-z0-9_-]{{43}}/", url), url
    snap(seller, "link-admin-message-desktop")

    # the buyer gets the link in a chat and opens it on a phone: no session in the shop, Spanish
    buyer = open_page(new_page, "phone", "es-MX")
    buyer.goto(url)
    link_page = buyer.get_by_test_id("orkestapay-payment-link")
    expect(link_page.locator("h1")).to_have_text("Tu orden")
    expect(link_page).to_contain_text(reference)
    expect(link_page.get_by_test_id("orkestapay-link-total")).to_have_text(TV_TOTAL)
    expect(link_page).not_to_contain_text("ana@example.com")
    expect(link_page.get_by_test_id("orkestapay-pay-button")).to_have_text("Pagar con OrkestaPay")
    assert_fits_the_phone(buyer)
    snap(buyer, "link-open-phone")

    buyer.get_by_test_id("orkestapay-pay-button").click()
    expect(buyer.locator("#order-total")).to_have_text(TV_TOTAL)
    buyer.locator("#pay-button").click()
    expect(buyer).to_have_url(re.compile(rf"^{re.escape(url)}(\?order={order_id})?$"))  # back to the link's page
    expect(buyer.get_by_test_id("orkestapay-link-paid")).to_have_text("¡Gracias! Esta orden está pagada.")
    expect(buyer.get_by_test_id("orkestapay-pay-button")).to_have_count(0)
    assert_fits_the_phone(buyer)
    snap(buyer, "link-paid-phone")
    assert shop.order_status(order_id) == "paid"
    assert checkout_count(shop, order_id) == 1

    # the same link at 1280 px, in English, for the record
    desk = open_page(new_page, "desktop", "en-US")
    desk.goto(url)
    expect(desk.get_by_test_id("orkestapay-link-paid")).to_have_text("Thank you! This order is paid.")
    snap(desk, "link-paid-desktop")


@pytest.mark.browser
@pytest.mark.parametrize(("screen", "locale"), [("desktop", "en-US"), ("phone", "es-MX")])
def test_a_revoked_payment_link_gets_a_clear_page(
    new_page: PageFactory, shop: ExampleShop, screen: str, locale: str
) -> None:
    seller = open_page(new_page, "desktop", "en-US")
    order_id = buy_tv(seller, shop)
    admin_log_in(seller, shop)
    seller.goto(f"{shop.base}/admin/orkestapay/paymentlink/add/")
    seller.locator("#id_order").fill(order_id)
    seller.locator("#id_lifetime_hours").fill("2")
    seller.locator("input[name=_save]").click()
    url = seller.locator(".messagelist .success a").get_attribute("href")
    assert url is not None
    snap(seller, f"link-admin-added-{screen}")

    buyer = open_page(new_page, screen, locale)
    buyer.goto(url)
    expect(buyer.get_by_test_id("orkestapay-link-expiry")).to_be_visible()

    seller.goto(f"{shop.base}/admin/orkestapay/paymentlink/?q={merchant_order_id(shop, order_id)}")
    seller.locator("#result_list input.action-select").first.check()
    seller.locator("select[name=action]").select_option("revoke")
    seller.locator("button[name=index]").click()
    seller.get_by_test_id("orkestapay-confirm").locator("input[type=submit]").click()
    expect(seller.locator(".messagelist")).to_contain_text("1 succeeded")

    buyer.get_by_test_id("orkestapay-pay-button").click()  # the page was open before the revocation
    gone = buyer.get_by_test_id("orkestapay-error")
    title = "This payment link is no longer valid" if locale == "en-US" else "Este enlace de pago ya no es válido"
    expect(gone.locator("h1")).to_have_text(title)
    expect(buyer.get_by_test_id("orkestapay-pay-button")).to_have_count(0)
    fits(buyer, screen)
    snap(buyer, f"link-revoked-{screen}")
    assert checkout_count(shop, order_id) == 0


@pytest.mark.browser
@pytest.mark.parametrize("screen", ["desktop", "phone"])
def test_the_buyer_forms_errors_speak_as_tu(new_page: PageFactory, shop: ExampleShop, screen: str) -> None:
    page = open_page(new_page, screen, "es-MX")
    page.goto(f"{shop.base}/products/pantalla-tcl-40/")
    page.locator("#id_first_name").fill("")
    page.locator("#id_email").fill("ana@")
    page.locator("#id_quantity").fill("0")
    page.locator("form").last.evaluate("form => form.noValidate = true")  # the server's messages, not the browser's
    page.get_by_test_id("buy-button").click()

    errors = page.locator(".errorlist")
    expect(errors.filter(has_text="Escribe tu nombre.")).to_have_count(1)
    expect(errors.filter(has_text="Escribe un correo electrónico válido, como ana@example.com.")).to_have_count(1)
    expect(errors.filter(has_text="Elige al menos 1.")).to_have_count(1)
    expect(page.locator("body")).not_to_contain_text("Introduzca")
    expect(page.locator("body")).not_to_contain_text("Asegúrese")
    fits(page, screen)
    snap(page, f"form-errors-{screen}")
