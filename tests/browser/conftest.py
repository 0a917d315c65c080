"""Fixtures for the browser journeys: Debian's Chromium under Playwright (sync API), the example shop served with the
embedded fake gateway on loopback (its own SQLite file, independent of pytest-django's database), a fresh browser
context per test, and a full-page screenshot of every open page when a test fails."""

from __future__ import annotations

import os
import re
from collections.abc import Generator, Iterator
from pathlib import Path

import pytest
from playwright.sync_api import Browser, Error, Page, Playwright, StorageState, ViewportSize, expect, sync_playwright

from tests.browser.shop_pages import PageFactory
from tests.example_shop import ExampleShop, ShopDidNotStart, running_shop

#: Debian's package (``apt-get install chromium``); Playwright's own browser download does not work here.
CHROMIUM = os.environ.get("CHROMIUM_PATH", "/usr/bin/chromium")
CHROMIUM_ARGS = [
    "--no-sandbox",
    "--disable-gpu",
    "--disable-quic",
    "--no-first-run",
    "--disable-background-networking",
    "--disable-component-update",
    "--disable-sync",
]
SCREENSHOTS = Path(__file__).resolve().parent.parent.parent / "test-artifacts" / "screenshots"
#: Milliseconds any single browser action or expectation may take before the test fails.
ACTION_TIMEOUT_MS = 30_000

expect.set_options(timeout=ACTION_TIMEOUT_MS)

PAGES = pytest.StashKey[list[Page]]()
SHOP = pytest.StashKey[ExampleShop]()


@pytest.fixture(scope="session")
def playwright_runtime() -> Iterator[Playwright]:
    with sync_playwright() as running:
        yield running


@pytest.fixture(scope="session")
def browser(playwright_runtime: Playwright) -> Iterator[Browser]:
    """Headless Debian Chromium. Fails (never skips) when it is missing: CI installs it."""
    if not os.access(CHROMIUM, os.X_OK):
        pytest.fail(
            f"Chromium not found at {CHROMIUM}: install Debian's package (apt-get install chromium fonts-dejavu-core; "
            "scripts/test does) or set CHROMIUM_PATH. Do not run 'playwright install'.",
            pytrace=False,
        )
    launched = playwright_runtime.chromium.launch(executable_path=CHROMIUM, args=CHROMIUM_ARGS, headless=True)
    yield launched
    launched.close()


@pytest.fixture(scope="session")
def shop(tmp_path_factory: pytest.TempPathFactory) -> Iterator[ExampleShop]:
    """The example shop (``manage.py rundemo``) with the embedded fake gateway, on free loopback ports."""
    try:
        with running_shop(tmp_path_factory.mktemp("browser-shop")) as running:
            yield running
    except ShopDidNotStart as exc:
        pytest.fail(str(exc), pytrace=False)


@pytest.fixture
def new_page(browser: Browser, shop: ExampleShop, request: pytest.FixtureRequest) -> Iterator[PageFactory]:
    """Open a page in a fresh browser context (own cookies, or ``storage_state``'s: a logged-in session) with
    ``locale`` as the browser's language, ``width`` by ``height`` CSS pixels (``phone``: a mobile browser, which
    honours the viewport meta tag, with touch).

    Every page opened is remembered on the test item so a failure can screenshot it.
    """
    request.node.stash[SHOP] = shop
    pages = request.node.stash.setdefault(PAGES, [])
    contexts = []

    def open_page(
        locale: str = "en-US",
        *,
        width: int = 1280,
        height: int = 900,
        phone: bool = False,
        storage_state: StorageState | None = None,
    ) -> Page:
        viewport: ViewportSize = {"width": width, "height": height}
        context = browser.new_context(
            locale=locale, viewport=viewport, is_mobile=phone, has_touch=phone, storage_state=storage_state
        )
        context.set_default_timeout(ACTION_TIMEOUT_MS)
        contexts.append(context)
        page = context.new_page()
        pages.append(page)
        return page

    yield open_page
    for context in contexts:
        context.close()


@pytest.fixture
def page(new_page: PageFactory) -> Page:
    """A page whose browser asks for English (``Accept-Language: en-US``)."""
    return new_page()


@pytest.hookimpl(wrapper=True)
def pytest_runtest_makereport(
    item: pytest.Item, call: pytest.CallInfo[None]
) -> Generator[None, pytest.TestReport, pytest.TestReport]:
    """On a failure, save a full-page PNG of every page the test opened and attach the shop's server log."""
    report: pytest.TestReport = yield
    if report.failed and report.when in ("setup", "call"):
        no_pages: list[Page] = []
        pages = item.stash.get(PAGES, no_pages)
        for index, page in enumerate(pages):
            suffix = "" if index == 0 else f"-{index + 1}"
            path = SCREENSHOTS / f"{_file_name(item.name)}{suffix}.png"
            try:
                SCREENSHOTS.mkdir(parents=True, exist_ok=True)
                page.screenshot(path=str(path), full_page=True)
                saved = f"saved {path} (page {page.url})"
            except Error as exc:
                saved = f"could not save {path}: {exc}"
            print(f"\nscreenshot: {saved}")
            report.sections.append(("screenshot", saved))
        if SHOP in item.stash:
            report.sections.append(("example shop server log (last lines)", item.stash[SHOP].log_tail()))
    return report


def _file_name(test_name: str) -> str:
    return re.sub(r"[^A-Za-z0-9_.-]+", "_", test_name).strip("_") or "test"
