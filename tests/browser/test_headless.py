"""The documentation's headless recipe (docs/recipes/headless.rst), run as printed: its two JavaScript functions
(``payWithOrkestaPay`` and ``orderStatus``) loaded into the example shop's pages in Chromium, paying through the JSON
endpoints and polling the status."""

from __future__ import annotations

import pytest
from playwright.sync_api import Page, expect

from tests.browser.shop_pages import buy_tv, hosted_checkout_url, pay_on_hosted_checkout
from tests.doc_examples import DOCS, blocks_of
from tests.example_shop import ExampleShop


def recipe_javascript() -> str:
    """The ``code-block:: javascript`` of the headless recipe."""
    (block,) = [block for block in blocks_of(DOCS / "recipes" / "headless.rst") if block.language == "javascript"]
    return block.code


def load_recipe(page: Page) -> None:
    page.add_script_tag(content=recipe_javascript())


def pay_reference(page: Page) -> str:
    """The signed reference the order page's pay button carries (what a shop's API would hand its front end)."""
    return str(page.locator("form.orkestapay-pay-form input[name=order]").get_attribute("value"))


@pytest.mark.browser
def test_the_recipe_pays_and_polls_through_the_json_endpoints(page: Page, shop: ExampleShop) -> None:
    order_id = buy_tv(page, shop)
    load_recipe(page)
    page.evaluate(
        "body => { payWithOrkestaPay(body).catch((error) => { document.title = 'failed: ' + error.message; }); }",
        {"order": pay_reference(page)},
    )
    expect(page).to_have_url(hosted_checkout_url(shop))  # the JSON answer's redirect_url
    pay_on_hosted_checkout(page, shop, order_id)

    load_recipe(page)  # on the page the buyer came back to
    answer = page.evaluate("() => orderStatus(sessionStorage.getItem('orkestapay-order'))")
    assert answer == {
        "status": "paid",
        "status_label": "Paid",
        "paid": True,
        "payable": False,
        "payment": "paid",
        "instructions": None,
    }
    assert shop.order_status(order_id) == "paid"


@pytest.mark.browser
def test_the_recipe_reports_a_refusal(page: Page, shop: ExampleShop) -> None:
    buy_tv(page, shop)
    load_recipe(page)
    message = page.evaluate(
        "body => payWithOrkestaPay(body).then(() => 'no error', (error) => error.message)",
        {"order": "forged-reference"},
    )
    assert message.startswith("invalid_reference: "), message
    status = page.evaluate("() => orderStatus('forged-reference')")
    assert status["error"] == "invalid_reference"
