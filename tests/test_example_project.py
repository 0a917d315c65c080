"""The example shop as scripts/demo runs it: a real server with the embedded fake gateway, walked over real HTTP."""

from __future__ import annotations

import os
import re

import pytest
import requests

from tests.example_shop import ExampleShop, csrf_token, manage

pytestmark = pytest.mark.standalone


def buy(example_shop: ExampleShop, session: requests.Session) -> tuple[str, str]:
    """Open a product, fill the buy form, press the pay button; return (order id, hosted checkout URL)."""
    product_url = f"{example_shop.base}/products/pantalla-tcl-40/"
    page = session.get(product_url, timeout=10)
    assert page.status_code == 200
    form = {
        "csrfmiddlewaretoken": csrf_token(page.text),
        "first_name": "Ana",
        "last_name": "López",
        "email": "ana@example.com",
        "quantity": "1",
    }
    order_page = session.post(product_url, data=form, headers={"Referer": product_url}, timeout=10)
    assert order_page.status_code == 200
    assert "990.00 MXN" in order_page.text
    order_id = re.search(r"/orders/([0-9a-f-]{36})/$", order_page.url).group(1)  # type: ignore[union-attr]
    reference = re.search(r'name="order" value="([^"]+)"', order_page.text).group(1)  # type: ignore[union-attr]
    assert order_id not in reference  # the button posts a signed reference, never the bare id
    pay = session.post(
        f"{example_shop.base}/orkestapay/pay/",
        data={"csrfmiddlewaretoken": csrf_token(order_page.text), "order": reference},
        headers={"Referer": order_page.url},
        allow_redirects=False,
        timeout=10,
    )
    assert pay.status_code == 302, pay.text
    assert pay.headers["Location"].startswith(f"{example_shop.fake}/checkout/chk_")
    return order_id, pay.headers["Location"]


def test_buyer_pays_and_lands_on_the_success_page(example_shop: ExampleShop) -> None:
    session = requests.Session()
    order_id, checkout_url = buy(example_shop, session)
    hosted = session.get(checkout_url, timeout=10)
    assert "990" in hosted.text
    done = session.post(f"{checkout_url}/pay", timeout=10)  # follows: completed return -> the shop's thanks page
    assert done.status_code == 200
    assert done.url.startswith(f"{example_shop.base}/thanks/?order={order_id}")
    assert 'data-testid="shop-thanks"' in done.text
    assert example_shop.order_status(order_id) == "paid"
    # the embedded fake also delivered a signed webhook, which the shop verified, stored and queued (202), and the
    # task worker that rundemo started processed
    events = example_shop.wait_for_events(order_id, count=1)
    assert [(status, verified) for _, status, verified in events] == [("processed", 1)]
    assert '"POST /orkestapay/webhook/ HTTP/1.1" 202' in example_shop.log_tail(400)
    processed_by_worker = example_shop.query(
        "select status from django_tasks_database_dbtaskresult where task_path = ?",
        "django_orkestapay.tasks.process_webhook_event",
    )
    assert ("SUCCESSFUL",) in processed_by_worker


def test_buyer_cancels_and_lands_on_the_cancel_page(example_shop: ExampleShop) -> None:
    session = requests.Session()
    order_id, checkout_url = buy(example_shop, session)
    done = session.post(f"{checkout_url}/cancel", timeout=10)
    assert done.status_code == 200
    assert done.url.startswith(f"{example_shop.base}/canceled/?order={order_id}")
    assert example_shop.order_status(order_id) == "canceled"


def test_example_settings_pass_django_checks() -> None:
    env = {**os.environ, "DEBUG": "off"}
    env.pop("DJANGO_SETTINGS_MODULE", None)
    result = manage(env, "check")
    assert result.returncode == 0, result.stderr
