"""A buyer in a real Chromium: the example shop, the fake gateway's hosted checkout, and back; then the admin.

The shop runs as a subprocess (``manage.py rundemo``) with its own SQLite file, which the tests read for the
order's stored status and its webhook events; the browser asks for English so the shop's strings are stable.
"""

from __future__ import annotations

import re

import pytest
from playwright.sync_api import Page, expect

from tests.browser.shop_pages import (
    TV_TOTAL,
    admin_log_in,
    buy_tv,
    checkout_count,
    go_to_hosted_checkout,
    hosted_checkout_url,
    merchant_order_id,
    order_in_query,
    pay_on_hosted_checkout,
    shop_url,
)
from tests.example_shop import ExampleShop


@pytest.mark.browser
def test_buyer_pays_and_the_admin_shows_the_order_paid(page: Page, shop: ExampleShop) -> None:
    order_id = buy_tv(page, shop)
    expect(page.get_by_test_id("order-status")).to_have_text("Created")
    reference = merchant_order_id(shop, order_id)
    expect(page.locator("h1")).to_contain_text(reference)

    go_to_hosted_checkout(page, shop)
    expect(page.locator("#merchant-order-id")).to_have_text(reference)
    assert shop.order_status(order_id) == "pending"

    pay_on_hosted_checkout(page, shop, order_id)
    assert order_in_query(page) == order_id
    expect(page.get_by_test_id("order-status")).to_have_text("Paid")
    expect(page.get_by_test_id("shop-thanks")).to_contain_text(TV_TOTAL)
    assert shop.order_status(order_id) == "paid"
    assert checkout_count(shop, order_id) == 1
    events = shop.wait_for_events(order_id, count=1)
    assert events == [("payment.purchase", "processed", 1)]

    admin_log_in(page, shop)
    page.goto(f"{shop.base}/admin/orkestapay/order/?q={reference}")
    rows = page.locator("#result_list tbody tr")
    expect(rows).to_have_count(1)
    expect(rows.locator("td.field-status")).to_have_text("Paid")
    expect(rows.locator("td.field-total_display")).to_have_text(TV_TOTAL)
    rows.locator("th.field-order_display a").click()
    expect(page).to_have_url(re.compile(rf"^{re.escape(shop.base)}/admin/orkestapay/order/{order_id}/change/"))
    expect(page.locator(".field-status .readonly")).to_have_text("Paid")
    expect(page.locator(".field-orkestapay_payment_id .readonly")).not_to_have_text("-")


@pytest.mark.browser
def test_buyer_cancels_on_the_hosted_page_then_tries_again_and_pays(page: Page, shop: ExampleShop) -> None:
    order_id = buy_tv(page, shop)
    first_checkout = go_to_hosted_checkout(page, shop)

    page.locator("#cancel-button").click()
    expect(page).to_have_url(shop_url(shop, rf"canceled/\?order={order_id}"))
    canceled = page.get_by_test_id("shop-canceled")
    expect(canceled).to_contain_text("Your payment was not completed")
    expect(canceled.get_by_test_id("order-status")).to_have_text("Canceled")
    assert shop.order_status(order_id) == "canceled"
    assert shop.wait_for_events(order_id, count=1) == [("payment.cancel", "processed", 1)]
    assert shop.order_status(order_id) == "canceled"

    # the canceled page offers the pay button again; the old checkout is over, so a new one opens
    expect(canceled.get_by_test_id("orkestapay-pay-button")).to_have_text("Try again")
    second_checkout = go_to_hosted_checkout(page, shop)
    assert second_checkout != first_checkout
    assert checkout_count(shop, order_id) == 2
    pay_on_hosted_checkout(page, shop, order_id)
    expect(page.get_by_test_id("order-status")).to_have_text("Paid")
    assert shop.order_status(order_id) == "paid"


@pytest.mark.browser
def test_declined_card_keeps_the_buyer_on_the_hosted_page_and_the_order_payable(page: Page, shop: ExampleShop) -> None:
    order_id = buy_tv(page, shop)
    checkout_url = go_to_hosted_checkout(page, shop)

    page.locator("#decline-button").click()
    expect(page).to_have_url(checkout_url.rstrip("/") + "/decline")
    expect(page.locator("#payment-error")).to_contain_text("Tu tarjeta fue rechazada")
    expect(page.locator("#pay-button")).to_be_visible()  # the same checkout still takes a payment
    # OrkestaPay reports the declined attempt with a payment.cancel webhook; the order stays open for another try
    assert shop.wait_for_events(order_id, count=1) == [("payment.cancel", "processed", 1)]
    assert shop.order_status(order_id) == "pending"

    # what the shop shows meanwhile: the order page, pending, with the pay button
    page.goto(f"{shop.base}/orders/{order_id}/")
    expect(page.get_by_test_id("order-status")).to_have_text("Pending payment")
    go_to_hosted_checkout(page, shop)
    expect(page).to_have_url(hosted_checkout_url(shop))
    assert page.url == checkout_url, "the open checkout is reused, not a second one created"
    assert checkout_count(shop, order_id) == 1

    pay_on_hosted_checkout(page, shop, order_id)
    expect(page.get_by_test_id("order-status")).to_have_text("Paid")
    assert shop.order_status(order_id) == "paid"
    events = shop.wait_for_events(order_id, count=2)
    assert events == [("payment.cancel", "processed", 1), ("payment.purchase", "processed", 1)]
