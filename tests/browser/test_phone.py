"""The example shop on a 390 px phone (an iPhone 12 to 15's width): every page of a purchase fits the screen, with no
sideways scrolling, and each page's title fits within it."""

from __future__ import annotations

import pytest
from playwright.sync_api import Page, expect

from tests.browser.shop_pages import (
    PageFactory,
    buy_tv,
    go_to_hosted_checkout,
    order_in_query,
    pay_on_hosted_checkout,
)
from tests.example_shop import ExampleShop

PHONE_WIDTH = 390
PHONE_HEIGHT = 844


def assert_fits_the_phone(page: Page) -> None:
    """No horizontal overflow, and the page's first heading lies within the screen's width."""
    widths = page.evaluate(
        "() => ({inner: window.innerWidth, scroll: document.documentElement.scrollWidth,"
        " body: document.body.scrollWidth})"
    )
    assert widths["inner"] == PHONE_WIDTH, widths
    assert widths["scroll"] <= PHONE_WIDTH, f"{page.url} scrolls sideways: {widths}"
    assert widths["body"] <= PHONE_WIDTH, f"{page.url} scrolls sideways: {widths}"
    title = page.locator("h1").first
    expect(title).to_be_visible()
    box = title.bounding_box()
    assert box is not None
    assert box["x"] >= 0, f"{page.url}: the title starts off screen: {box}"
    assert box["x"] + box["width"] <= PHONE_WIDTH, f"{page.url}: the title does not fit: {box}"


@pytest.mark.browser
@pytest.mark.parametrize("locale", ["en-US", "es-MX"])
def test_a_purchase_fits_a_390_px_phone(new_page: PageFactory, shop: ExampleShop, locale: str) -> None:
    page = new_page(locale, width=PHONE_WIDTH, height=PHONE_HEIGHT, phone=True)
    page.goto(f"{shop.base}/")
    assert_fits_the_phone(page)

    order_id = buy_tv(page, shop) if locale == "en-US" else buy_tv_in_spanish(page, shop)
    assert_fits_the_phone(page)  # the order page: its long reference in the title, the order's lines and totals
    expect(page.get_by_test_id("order-line")).to_have_count(1)

    go_to_hosted_checkout(page, shop)
    assert_fits_the_phone(page)  # the fake gateway's hosted page
    pay_on_hosted_checkout(page, shop, order_id)
    assert order_in_query(page) == order_id
    assert_fits_the_phone(page)  # the thanks page

    page.goto(f"{shop.base}/no-such-page/")
    expect(page.get_by_test_id("shop-error")).to_be_visible()
    assert_fits_the_phone(page)  # the shop's 404 page


def buy_tv_in_spanish(page: Page, shop: ExampleShop) -> str:
    """The buyer form, answered by a browser that asks for Spanish: the same purchase as :func:`buy_tv`."""
    from tests.browser.test_spanish_pages import buy_tv_in_spanish as buy

    page.goto(f"{shop.base}/")
    return buy(page, shop)
