"""The admin an operator works in, in Mexican Spanish, on a 1280 px laptop and a 390 px phone: the order, payment and
event lists keep their key columns on screen (each cell's box measured against the screen and the list's own box),
and the order's page (summary, Refund button, payments and refunds) has nothing off to the side.

Every page measured is saved as a full-page PNG in a temporary folder (printed, and named in the test's report);
set ``ADMIN_SCREENSHOTS`` to a folder to keep them somewhere else.
"""

from __future__ import annotations

import os
import re
from collections.abc import Iterator
from dataclasses import dataclass
from pathlib import Path

import pytest
from playwright.sync_api import Browser, Page, StorageState, expect

from tests.browser.shop_pages import (
    PageFactory,
    admin_log_in,
    buy_tv,
    go_to_hosted_checkout,
    merchant_order_id,
    pay_on_hosted_checkout,
)
from tests.example_shop import ExampleShop

LAPTOP, PHONE = 1280, 390
LOCALE = "es-MX"

#: The columns an operator needs on each list (``field-<name>`` cells), which must all be on screen.
KEY_COLUMNS = {
    "order": ("order_display", "total_display", "status", "review_display", "created"),
    "payment": ("order_reference", "status", "amount_display", "method_display", "created"),
    "event": ("kind", "status", "verified", "order_reference", "received"),
}


@dataclass(frozen=True)
class AdminSession:
    order_id: str
    reference: str
    storage: StorageState


@pytest.fixture(scope="module")
def screenshots(tmp_path_factory: pytest.TempPathFactory) -> Path:
    folder = Path(os.environ.get("ADMIN_SCREENSHOTS") or tmp_path_factory.mktemp("admin-screenshots"))
    folder.mkdir(parents=True, exist_ok=True)
    print(f"\nadmin screenshots: {folder}")
    return folder


@pytest.fixture(scope="module")
def refunded_order(browser: Browser, shop: ExampleShop) -> Iterator[AdminSession]:
    """A TV bought and paid in Spanish, then partly refunded from the order page's Refund button; the admin's
    logged-in session."""
    context = browser.new_context(locale=LOCALE, viewport={"width": LAPTOP, "height": 900})
    page = context.new_page()
    order_id = buy_tv(page, shop)
    go_to_hosted_checkout(page, shop)
    pay_on_hosted_checkout(page, shop, order_id)
    assert shop.wait_for_events(order_id, count=1) == [("payment.purchase", "processed", 1)]
    admin_log_in(page, shop)
    reference = merchant_order_id(shop, order_id)

    page.goto(f"{shop.base}/admin/orkestapay/order/{order_id}/change/")
    expect(page.get_by_test_id("orkestapay-summary-left")).to_have_text("990.00 MXN")
    page.get_by_test_id("orkestapay-refund-button").click()
    expect(page.get_by_test_id("orkestapay-confirm")).to_contain_text(f"Orden {reference}: quedan 990.00 MXN")
    page.locator("#id_amount").fill("990.01")
    page.locator("input[type=submit]").click()
    expect(page.get_by_test_id("orkestapay-amount-error")).to_have_text(
        "990.01 MXN es más de lo que queda por reembolsar: como máximo 990.00 MXN."
    )
    page.locator("#id_amount").fill("100.50")  # es-mx writes a decimal point
    page.locator("input[type=submit]").click()
    expect(page).to_have_url(re.compile(rf"/admin/orkestapay/order/{order_id}/change/$"))
    expect(page.locator(".messagelist")).to_contain_text(f"Orden {reference}: se reembolsaron 100.50 MXN.")
    expect(page.get_by_test_id("orkestapay-summary-left")).to_have_text("889.50 MXN")
    yield AdminSession(order_id=order_id, reference=reference, storage=context.storage_state())
    context.close()


def open_admin(new_page: PageFactory, session: AdminSession, width: int) -> Page:
    return new_page(LOCALE, width=width, height=900, phone=width == PHONE, storage_state=session.storage)


def assert_no_sideways_scroll(page: Page, width: int) -> None:
    widths = page.evaluate("() => ({inner: innerWidth, scroll: document.documentElement.scrollWidth})")
    assert widths == {"inner": width, "scroll": width}, f"{page.url} scrolls sideways: {widths}"


def assert_on_screen(page: Page, selector: str, width: int, *, within: str = "") -> int:
    """Every element ``selector`` matches is visible and lies within the screen's width (and within ``within``'s
    box, the list's scrolling container, when given); returns how many there are."""
    boxes = page.locator(selector).evaluate_all(
        """(cells, within) => cells.map(cell => {
            const box = cell.getBoundingClientRect();
            const outer = within ? cell.closest(within).getBoundingClientRect() : {left: 0, right: innerWidth};
            return {text: cell.innerText.trim().slice(0, 40), left: box.left, right: box.right, width: box.width,
                    outerLeft: outer.left, outerRight: outer.right};
        })""",
        within,
    )
    assert boxes, f"{page.url}: nothing matches {selector}"
    for box in boxes:
        assert box["width"] > 0, f"{page.url}: {selector} is not shown: {box}"
        assert box["left"] >= max(0, box["outerLeft"]) - 0.5, f"{page.url}: {selector} starts off screen: {box}"
        assert box["right"] <= min(width, box["outerRight"]) + 0.5, f"{page.url}: {selector} is cut off: {box}"
    return len(boxes)


@pytest.mark.browser
@pytest.mark.parametrize("width", [LAPTOP, PHONE])
@pytest.mark.parametrize("model", list(KEY_COLUMNS))
def test_the_lists_keep_their_key_columns_on_screen(
    new_page: PageFactory, shop: ExampleShop, refunded_order: AdminSession, screenshots: Path, model: str, width: int
) -> None:
    page = open_admin(new_page, refunded_order, width)
    page.goto(f"{shop.base}/admin/orkestapay/{model}/")
    expect(page.locator("html")).to_have_attribute("lang", "es-mx")
    expect(page.locator("#result_list tbody tr").first).to_be_visible()
    page.screenshot(path=str(screenshots / f"{model}-list-{width}.png"), full_page=True)
    assert_no_sideways_scroll(page, width)
    for column in KEY_COLUMNS[model]:
        assert assert_on_screen(page, f"#result_list tbody .field-{column}", width, within=".results") >= 1
    if width == LAPTOP:  # the headers too (a phone shows each row as a card, without them)
        for column in KEY_COLUMNS[model]:
            assert_on_screen(page, f"#result_list thead .column-{column}", width, within=".results")
    rows = page.locator("#result_list tbody tr")
    expect(rows.filter(has_text=refunded_order.reference).first).to_be_visible()
    if model == "order":
        row = rows.filter(has_text=refunded_order.reference)
        expect(row.locator(".field-total_display")).to_have_text("990.00 MXN")
        expect(row.locator(".field-status")).to_have_text("Reembolsada parcialmente")
        expect(row.locator(".field-review_display")).not_to_contain_text("Revisar")  # nothing to review
        expect(row.locator(".field-review_display img")).to_have_count(0)  # no red cross
    if model == "payment":
        expect(rows.first.locator(".field-method_display")).to_have_text("Tarjeta · Visa •••• 4242")


@pytest.mark.browser
@pytest.mark.parametrize("width", [LAPTOP, PHONE])
def test_the_order_page_opens_with_its_summary_and_fits(
    new_page: PageFactory, shop: ExampleShop, refunded_order: AdminSession, screenshots: Path, width: int
) -> None:
    page = open_admin(new_page, refunded_order, width)
    page.goto(f"{shop.base}/admin/orkestapay/order/{refunded_order.order_id}/change/")
    shop.wait_for_events(refunded_order.order_id, count=2)  # the refund's webhook, so the page shows it settled
    page.reload()
    page.screenshot(path=str(screenshots / f"order-page-{width}.png"), full_page=True)
    assert_no_sideways_scroll(page, width)
    summary = page.get_by_test_id("orkestapay-order-summary")
    expect(summary.locator("h2")).to_have_text("Resumen")
    facts = {
        "status": "Reembolsada parcialmente",
        "received": "990.00 MXN",
        "refunded": "100.50 MXN",
        "left": "889.50 MXN",
        "paid-with": "Tarjeta · Visa •••• 4242",
    }
    for name, text in facts.items():
        expect(page.get_by_test_id(f"orkestapay-summary-{name}")).to_have_text(text)
        assert_on_screen(page, f'[data-testid="orkestapay-summary-{name}"]', width)
    expect(page.get_by_test_id("orkestapay-summary-customer")).to_contain_text("Ana López")
    assert_on_screen(page, '[data-testid="orkestapay-refund-button"]', width)
    summary_top = summary.bounding_box()
    review_top = page.locator("#id_needs_review").bounding_box()
    assert summary_top is not None
    assert review_top is not None
    assert summary_top["y"] < review_top["y"], "the summary comes before the review form"
    for table in ("orkestapay-items", "orkestapay-payments", "orkestapay-refunds", "orkestapay-checkouts"):
        assert_on_screen(page, f'[data-testid="{table}"] tbody td', width)
    expect(page.get_by_test_id("orkestapay-refunds").locator("tbody tr")).to_have_count(1)
    expect(page.get_by_test_id("orkestapay-refunds")).to_contain_text("100.50 MXN")
    expect(page.get_by_test_id("orkestapay-items")).to_contain_text("1,000.00 MXN")


@pytest.mark.browser
def test_the_admin_index_speaks_spanish(
    new_page: PageFactory, shop: ExampleShop, refunded_order: AdminSession, screenshots: Path
) -> None:
    page = open_admin(new_page, refunded_order, LAPTOP)
    page.goto(f"{shop.base}/admin/")
    page.screenshot(path=str(screenshots / "index-1280.png"), full_page=True)
    content = page.locator("#content-main")
    expect(content).to_contain_text("Resultados de tareas")  # django-tasks-db's "Task Results"
    expect(content).to_contain_text("Tareas en segundo plano")
    expect(content).not_to_contain_text("Task Results")
