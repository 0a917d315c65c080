"""The example shop as scripts/demo runs it: a real server with the embedded fake gateway, walked over real HTTP."""

from __future__ import annotations

import os
import re
import socket
import sqlite3
import subprocess
import sys
import time
from collections.abc import Iterator
from pathlib import Path

import pytest
import requests

EXAMPLE = Path(__file__).resolve().parent.parent / "example_project"


def free_port() -> int:
    with socket.socket() as sock:
        sock.bind(("127.0.0.1", 0))
        return int(sock.getsockname()[1])


def manage(env: dict[str, str], *args: str) -> subprocess.CompletedProcess[str]:
    return subprocess.run(
        [sys.executable, "manage.py", *args], cwd=EXAMPLE, env=env, capture_output=True, text=True, timeout=120
    )


@pytest.fixture(scope="module")
def shop(tmp_path_factory: pytest.TempPathFactory) -> Iterator[dict[str, object]]:
    db = tmp_path_factory.mktemp("shop") / "db.sqlite3"
    shop_port, fake_port = free_port(), free_port()
    env = {
        **os.environ,
        "DATABASE_URL": f"sqlite:///{db}",
        "FAKE_GATEWAY_PORT": str(fake_port),
        "ORKESTAPAY_CLIENT_ID": "",
        "DEBUG": "off",
        "PYTHONUNBUFFERED": "1",
    }
    env.pop("DJANGO_SETTINGS_MODULE", None)
    for command in (("migrate", "--no-input"), ("demo_setup",)):
        result = manage(env, *command)
        assert result.returncode == 0, result.stderr
    server = subprocess.Popen(
        [sys.executable, "manage.py", "rundemo", f"127.0.0.1:{shop_port}"],
        cwd=EXAMPLE,
        env=env,
        stdout=subprocess.PIPE,
        stderr=subprocess.STDOUT,
        text=True,
    )
    base = f"http://127.0.0.1:{shop_port}"
    try:
        deadline = time.monotonic() + 30
        while True:
            try:
                requests.get(f"{base}/", timeout=1)
                break
            except requests.ConnectionError:
                if time.monotonic() > deadline or server.poll() is not None:
                    server.kill()
                    pytest.fail(f"the demo shop did not start:\n{server.communicate()[0]}")
                time.sleep(0.2)
        yield {"base": base, "db": db, "fake": f"http://127.0.0.1:{fake_port}"}
    finally:
        server.terminate()
        try:
            server.wait(timeout=10)
        except subprocess.TimeoutExpired:
            server.kill()


def csrf(html: str) -> str:
    match = re.search(r'name="csrfmiddlewaretoken" value="([^"]+)"', html)
    assert match, "no CSRF token in the page"
    return match.group(1)


def buy(shop: dict[str, object], session: requests.Session) -> tuple[str, str]:
    """Open a product, fill the buy form, press the pay button; return (order id, hosted checkout URL)."""
    base = str(shop["base"])
    product_url = f"{base}/products/pantalla-tcl-40/"
    page = session.get(product_url, timeout=10)
    assert page.status_code == 200
    form = {
        "csrfmiddlewaretoken": csrf(page.text),
        "first_name": "Ana",
        "last_name": "López",
        "email": "ana@example.com",
        "quantity": "1",
    }
    order_page = session.post(product_url, data=form, headers={"Referer": product_url}, timeout=10)
    assert order_page.status_code == 200
    assert "990.00 MXN" in order_page.text
    order_id = re.search(r'name="order" value="([0-9a-f-]{36})"', order_page.text).group(1)  # type: ignore[union-attr]
    pay = session.post(
        f"{base}/orkestapay/pay/",
        data={"csrfmiddlewaretoken": csrf(order_page.text), "order": order_id},
        headers={"Referer": order_page.url},
        allow_redirects=False,
        timeout=10,
    )
    assert pay.status_code == 302, pay.text
    assert pay.headers["Location"].startswith(f"{shop['fake']}/checkout/chk_")
    return order_id, pay.headers["Location"]


def stored_status(shop: dict[str, object], order_id: str) -> str:
    with sqlite3.connect(str(shop["db"])) as connection:
        row = connection.execute(
            "select status from orkestapay_order where id = ?", (order_id.replace("-", ""),)
        ).fetchone()
    return str(row[0])


def test_buyer_pays_and_lands_on_the_success_page(shop: dict[str, object]) -> None:
    session = requests.Session()
    order_id, checkout_url = buy(shop, session)
    hosted = session.get(checkout_url, timeout=10)
    assert "990" in hosted.text
    done = session.post(f"{checkout_url}/pay", timeout=10)  # follows: completed return -> the shop's thanks page
    assert done.status_code == 200
    assert done.url.startswith(f"{shop['base']}/thanks/?order={order_id}")
    assert 'data-testid="shop-thanks"' in done.text
    assert stored_status(shop, order_id) == "paid"
    # the embedded fake also delivered a signed webhook, which the shop verified and stored
    deadline = time.monotonic() + 15
    while time.monotonic() < deadline:
        with sqlite3.connect(str(shop["db"])) as connection:
            rows = connection.execute(
                "select status, verified from orkestapay_event where order_id = ?", (order_id.replace("-", ""),)
            ).fetchall()
        if rows:
            break
        time.sleep(0.2)
    assert rows == [("processed", 1)]


def test_buyer_cancels_and_lands_on_the_cancel_page(shop: dict[str, object]) -> None:
    session = requests.Session()
    order_id, checkout_url = buy(shop, session)
    done = session.post(f"{checkout_url}/cancel", timeout=10)
    assert done.status_code == 200
    assert done.url.startswith(f"{shop['base']}/canceled/?order={order_id}")
    assert stored_status(shop, order_id) == "canceled"


def test_example_settings_pass_django_checks() -> None:
    env = {**os.environ, "DEBUG": "off"}
    env.pop("DJANGO_SETTINGS_MODULE", None)
    result = manage(env, "check")
    assert result.returncode == 0, result.stderr
