"""What a buyer and a shop admin do in the browser, step by step, shared by the journeys."""

from __future__ import annotations

import os
import re
from collections.abc import Callable
from urllib.parse import parse_qs, urlsplit

from playwright.sync_api import Page, expect

from tests.example_shop import ExampleShop

TV_NAME = "Pantalla TCL Smart TV Serie A3 A343 HD Android TV 40"
TV_TOTAL = "$990.00 MXN"  # 1000.00 less the 10.00 discount, no shipping, as the shop and the hosted page write it
#: ``new_page(locale="en-US")``: a page in a fresh browser context (the ``new_page`` fixture).
PageFactory = Callable[..., Page]
UUID = r"[0-9a-f]{8}-[0-9a-f]{4}-[0-9a-f]{4}-[0-9a-f]{4}-[0-9a-f]{12}"


def shop_url(shop: ExampleShop, path: str) -> re.Pattern[str]:
    """A pattern for a shop URL whose path ends with ``path`` (a regex; a language prefix is allowed)."""
    return re.compile(rf"^{re.escape(shop.base)}/(?:[\w-]+/)?{path}$")


def hosted_checkout_url(shop: ExampleShop) -> re.Pattern[str]:
    """A pattern for the fake gateway's hosted checkout page."""
    return re.compile(rf"^{re.escape(shop.fake)}/checkout/chk_[\w-]+$")


def order_in_query(page: Page) -> str:
    """The ``order`` query parameter of the page's URL (the shop's thanks and canceled pages carry it)."""
    values = parse_qs(urlsplit(page.url).query).get("order", [])
    assert len(values) == 1, f"no single ?order= in {page.url}"
    return values[0]


def buy_tv(page: Page, shop: ExampleShop) -> str:
    """From the product list, open the TV, fill the buyer form and press Buy; return the new order's id.

    Ends on the shop's order page, which shows the total and the pay button.
    """
    page.goto(f"{shop.base}/")
    page.get_by_test_id("product-link").filter(has_text=TV_NAME).click()
    expect(page).to_have_url(shop_url(shop, "products/pantalla-tcl-40/"))
    expect(page.locator("h1")).to_have_text(TV_NAME)
    page.locator("#id_first_name").fill("Ana")
    page.locator("#id_last_name").fill("López")
    page.locator("#id_email").fill("ana@example.com")
    page.locator("#id_quantity").fill("1")
    page.get_by_test_id("buy-button").click()
    expect(page).to_have_url(shop_url(shop, f"orders/{UUID}/"))
    expect(page.get_by_test_id("order-total")).to_have_text(TV_TOTAL)
    match = re.search(rf"/orders/({UUID})/$", page.url)
    assert match, page.url
    return match.group(1)


def go_to_hosted_checkout(page: Page, shop: ExampleShop) -> str:
    """Press the shop's pay button (on the order or canceled page); return the hosted checkout's URL."""
    page.get_by_test_id("orkestapay-pay-button").click()
    expect(page).to_have_url(hosted_checkout_url(shop))
    expect(page.locator("#order-total")).to_have_text(TV_TOTAL)
    expect(page.locator("#customer-email")).to_have_text("ana@example.com")
    expect(page.locator(".product-name")).to_have_text([TV_NAME])
    expect(page.locator("#pay-button")).to_be_visible()
    return page.url


def pay_on_hosted_checkout(page: Page, shop: ExampleShop, order_id: str) -> None:
    """Press *Pagar* on the hosted page and land on the shop's thanks page for ``order_id``."""
    page.locator("#pay-button").click()
    expect(page).to_have_url(shop_url(shop, rf"thanks/\?order={order_id}"))
    expect(page.get_by_test_id("shop-thanks")).to_be_visible()


def admin_log_in(page: Page, shop: ExampleShop) -> None:
    """Log in to the shop's admin as ``admin`` (the password demo_setup used)."""
    page.goto(f"{shop.base}/admin/login/?next=/admin/")
    page.locator("#id_username").fill("admin")
    page.locator("#id_password").fill(os.environ.get("DEMO_ADMIN_PASSWORD", "admin"))
    page.locator("input[type=submit]").click()
    expect(page).to_have_url(f"{shop.base}/admin/")


def merchant_order_id(shop: ExampleShop, order_id: str) -> str:
    """The order's merchant reference, as stored in the shop's database."""
    rows = shop.query("select merchant_order_id from orkestapay_order where id = ?", order_id.replace("-", ""))
    assert rows, f"no order {order_id} in the shop's database"
    return str(rows[0][0])


def checkout_count(shop: ExampleShop, order_id: str) -> int:
    """How many checkouts the shop registered for the order."""
    rows = shop.query("select count(*) from orkestapay_checkout where order_id = ?", order_id.replace("-", ""))
    return int(str(rows[0][0]))
