"""The example shop as scripts/demo runs it: a real server with the embedded fake gateway, walked over real HTTP."""

from __future__ import annotations

import os
import re
import socket
from collections.abc import Callable

import pytest
import requests

from tests.example_shop import EXAMPLE, ExampleShop, csrf_token, free_port, manage, shop_environment

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
    assert "$990.00 MXN" in order_page.text
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
    processed_by_worker = example_shop.wait_for_query(
        "select status from django_tasks_database_dbtaskresult where task_path = ?",
        "django_orkestapay.tasks.process_webhook_event",
        until=lambda rows: ("SUCCESSFUL",) in rows,
    )
    assert ("SUCCESSFUL",) in processed_by_worker


def test_two_buyers_of_the_same_product_are_two_purchases_never_paid_twice(example_shop: ExampleShop) -> None:
    """The example shop paid for ``shop_object=product``: a second buyer of the same product and quantity was
    flagged ``paid_twice`` (and got ``order_paid_twice`` instead of ``order_paid``), so a shop copied from it would
    not ship to repeat buyers. Each order now pays for the buyer's own purchase row."""
    orders = []
    for _ in range(2):
        session = requests.Session()
        order_id, checkout_url = buy(example_shop, session)
        assert session.post(f"{checkout_url}/pay", timeout=10).status_code == 200
        orders.append(order_id.replace("-", ""))
    rows = example_shop.query(
        "select o.status, o.needs_review, o.object_id, t.model from orkestapay_order o"
        " join django_content_type t on t.id = o.content_type_id where o.id in (?, ?)",
        *orders,
    )
    assert sorted((status, review, model) for status, review, _, model in rows) == [("paid", 0, "purchase")] * 2
    assert len({object_id for _, _, object_id, _ in rows}) == 2  # two purchases


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


# --- a demo that looks like a shop (issue 14) ---------------------------------------------------------------------

MUG_URL = "/products/taza-cafe/"


def place_order(example_shop: ExampleShop, session: requests.Session, product_url: str, quantity: int) -> str:
    """Fill the buyer form of a product and press Buy; return the order page's HTML (the session now owns it)."""
    page = session.get(f"{example_shop.base}{product_url}", timeout=10)
    form = {
        "csrfmiddlewaretoken": csrf_token(page.text),
        "first_name": "Ana",
        "last_name": "López",
        "email": "ana@example.com",
        "quantity": str(quantity),
    }
    order_page = session.post(page.url, data=form, headers={"Referer": page.url}, timeout=10)
    assert order_page.status_code == 200
    assert "/orders/" in order_page.url
    return order_page.text


def texts_of(html: str, testid: str) -> list[str]:
    """The text of every element with ``data-testid=testid`` (no nested markup in these)."""
    return [re.sub(r"\s+", " ", text).strip() for text in re.findall(rf'data-testid="{testid}"[^>]*>([^<]*)<', html)]


@pytest.mark.parametrize(
    ("language", "shown"),
    [
        ("en", {"line-total": ["$499.00 MXN"], "order-subtotal": ["$499.00 MXN"], "order-shipping": ["$99.00 MXN"]}),
        ("es-MX", {"line-total": ["$499.00 MXN"], "order-subtotal": ["$499.00 MXN"], "order-shipping": ["$99.00 MXN"]}),
    ],
)
def test_the_order_page_shows_lines_subtotal_shipping_and_total(example_shop, language, shown):
    session = requests.Session()
    session.headers["Accept-Language"] = language
    html = place_order(example_shop, session, MUG_URL, 2)  # 2 x 249.50, 99.00 shipping
    for testid, texts in shown.items():
        assert texts_of(html, testid) == texts, testid
    assert texts_of(html, "order-total") == ["$598.00 MXN"]
    assert "2 \u00d7 $249.50 MXN" in html  # quantity x unit price, under the name on a phone
    assert texts_of(html, "order-discounts") == []  # the mug has no discount: no line for it


def test_the_order_page_groups_thousands_and_shows_the_discount(example_shop):
    html = place_order(example_shop, requests.Session(), "/products/pantalla-tcl-40/", 3)
    assert texts_of(html, "line-total") == ["$3,000.00 MXN"]
    assert texts_of(html, "order-discounts") == ["-$30.00 MXN"]
    assert texts_of(html, "order-total") == ["$2,970.00 MXN"]


def test_an_order_opens_only_in_the_session_that_placed_it(example_shop):
    buyer, stranger = requests.Session(), requests.Session()
    order_id, checkout_url = buy(example_shop, buyer)
    thanks = buyer.post(f"{checkout_url}/pay", timeout=10)
    assert thanks.url.startswith(f"{example_shop.base}/thanks/?order={order_id}")
    assert 'data-testid="shop-thanks"' in thanks.text
    for path in (f"/orders/{order_id}/", f"/thanks/?order={order_id}", f"/canceled/?order={order_id}"):
        assert buyer.get(f"{example_shop.base}{path}", timeout=10).status_code == 200, path
        other = stranger.get(f"{example_shop.base}{path}", timeout=10)
        assert other.status_code == 404, path
        assert 'data-testid="shop-error"' in other.text
        assert "ana@example.com" not in other.text
        assert "990" not in other.text


#: Requests the shop refuses, each with its status and what the shop's own page says (in Spanish, the shop's
#: language when the browser asks for none).
ERROR_PAGES: dict[str, tuple[Callable[[str], requests.Response], int, str]] = {
    "404": (lambda base: requests.get(f"{base}/no-such-page/", timeout=10), 404, "No encontramos esta página"),
    "400-bad-host": (
        lambda base: requests.get(f"{base}/", headers={"Host": "evil.example"}, timeout=10),
        400,
        "No pudimos entender esta solicitud",
    ),
    "403-stale-form": (
        lambda base: requests.post(f"{base}{MUG_URL}", data={"quantity": "1"}, timeout=10),
        403,
        "Esta página está desactualizada",
    ),
}
#: What Django's own pages (DEBUG's, or its plain defaults) would show.
DJANGO_PAGE_MARKERS = ("Using the URLconf", "DisallowedHost", "ALLOWED_HOSTS", "Traceback", "CSRF verification failed")


@pytest.mark.parametrize("name", ERROR_PAGES)
def test_refused_requests_get_the_shops_own_pages_never_djangos(example_shop, name):
    request, status, says = ERROR_PAGES[name]
    response = request(example_shop.base)
    assert response.status_code == status
    assert 'data-testid="shop-error"' in response.text
    assert says in response.text
    assert "Tienda Demo" in response.text
    assert [marker for marker in DJANGO_PAGE_MARKERS if marker in response.text] == []


def test_the_500_page_stands_alone_and_is_translated(tmp_path):
    env = {**os.environ, "DATABASE_URL": f"sqlite:///{tmp_path / 'db.sqlite3'}", "ORKESTAPAY_CLIENT_ID": ""}
    env.pop("DJANGO_SETTINGS_MODULE", None)
    code = (
        "from django.test import RequestFactory\n"
        "from django.utils import translation\n"
        "from django.views.defaults import server_error\n"
        "translation.activate('es-mx')\n"
        "response = server_error(RequestFactory().get('/'))\n"
        "print(response.status_code)\n"
        "print(response.content.decode())\n"
    )
    result = manage(env, "shell", "-c", code)
    assert result.returncode == 0, result.stderr
    assert re.search(r"^500$", result.stdout, re.MULTILINE), result.stdout
    assert "Algo salió mal" in result.stdout
    assert 'data-testid="shop-error"' in result.stdout


def test_a_favicon_and_the_static_files_are_served_with_debug_off(example_shop):
    home = requests.get(f"{example_shop.base}/", timeout=10).text
    assert '<link rel="icon" href="/static/shop/favicon.svg"' in home
    icon = requests.get(f"{example_shop.base}/favicon.ico", timeout=10)
    assert icon.status_code == 200
    assert icon.url == f"{example_shop.base}/static/shop/favicon.svg"
    assert icon.headers["Content-Type"].startswith("image/svg+xml")
    css = requests.get(f"{example_shop.base}/static/django_orkestapay/orkestapay.css", timeout=10)
    assert css.status_code == 200


@pytest.mark.parametrize("language", ["en", "es-MX"])
def test_the_language_picker_names_each_language_in_itself(example_shop, language):
    html = requests.get(f"{example_shop.base}/", headers={"Accept-Language": language}, timeout=10).text
    options = re.findall(r'<option value="([^"]+)" lang="[^"]+"(?: selected)?>([^<]+)</option>', html)
    assert options == [("es-mx", "Español"), ("en", "English")]


def test_a_refunded_order_shows_as_refunded(example_shop):
    session = requests.Session()
    session.headers["Accept-Language"] = "en"
    order_id, checkout_url = buy(example_shop, session)
    session.post(f"{checkout_url}/pay", timeout=10)
    example_shop.wait_for_events(order_id, count=1)
    payment_id = str(
        example_shop.query(
            "select orkestapay_payment_id from orkestapay_order where id = ?", order_id.replace("-", "")
        )[0][0]
    )
    refund = requests.post(
        f"{example_shop.fake}/_fake/payments/{payment_id}/portal_refund", json={"amount": 990}, timeout=10
    )
    assert refund.status_code == 200, refund.text
    example_shop.wait_for_events(order_id, count=2)  # payment.refund, delivered to the shop
    assert example_shop.order_status(order_id) == "refunded"

    order_page = session.get(f"{example_shop.base}/orders/{order_id}/", timeout=10).text
    assert texts_of(order_page, "order-status") == ["Refunded"]
    assert "This order was refunded." in order_page
    assert "is paid" not in order_page
    assert 'data-testid="orkestapay-pay-button"' not in order_page
    thanks = session.get(f"{example_shop.base}/thanks/?order={order_id}", timeout=10).text
    assert "This order was refunded" in thanks
    assert "Thank you for your purchase" not in thanks


def test_every_admin_label_of_the_shop_reads_in_spanish(tmp_path):
    env = {
        **os.environ,
        "DATABASE_URL": f"sqlite:///{tmp_path / 'db.sqlite3'}",
        "ORKESTAPAY_CLIENT_ID": "",
        "PYTHONPATH": str(EXAMPLE.parent),
    }
    env.pop("DJANGO_SETTINGS_MODULE", None)
    code = (  # django-tasks-db's labels included: the shop's catalogue translates them ("Task Results")
        "from tests.admin_labels import untranslated_admin_labels\n"
        "print(untranslated_admin_labels('es-mx', also=('django_tasks_db',)))\n"
    )
    result = manage(env, "shell", "-c", code)
    assert result.returncode == 0, result.stderr
    assert result.stdout.strip().splitlines()[-1] == "[]"


def test_rundemo_on_a_busy_gateway_port_says_so_in_one_line(tmp_path):
    with socket.socket() as busy:
        busy.bind(("127.0.0.1", 0))
        busy.listen()
        port = busy.getsockname()[1]
        env = shop_environment(tmp_path / "db.sqlite3", port)
        result = manage(env, "rundemo", f"127.0.0.1:{free_port()}")
    assert result.returncode == 1
    assert "Traceback" not in result.stderr
    assert result.stderr.strip().count("\n") == 0, result.stderr
    assert f"cannot listen on 127.0.0.1:{port}" in result.stderr
    assert "FAKE_GATEWAY_PORT" in result.stderr
