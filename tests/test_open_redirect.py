"""Open-redirect attempts on every place that sends the buyer somewhere.

The app redirects in exactly three places, and none of them takes the destination from the request:

* ``pay`` redirects to the ``checkout_redirect_url`` OrkestaPay returned, only when its host is trusted
  (``CHECKOUT_HOSTS``; default ``.orkestapay.com``, ``.orkesta.io`` and ``BASE_URL``'s host);
* ``completed`` and ``canceled`` redirect to the order's own ``success_url`` / ``cancel_url`` when that is a page of
  this site, else to the ``SUCCESS_URL`` / ``CANCEL_URL`` settings (or render the app's own page); a ``next``,
  ``redirect`` or similar query parameter is never read.

The example shop's only URL-taking parameter is Django's ``set_language`` ``next`` (its own views redirect to named
URLs); it is tried against the running demo. Django admin's login ``next`` is Django's own and out of scope.

Each refused redirect also leaves the database as the contract says: nothing changed, or (for an untrusted
checkout URL) one FAILED checkout row and ``order.last_error``; the fake-gateway version of that case is in
tests/test_fault_catalogue.py (``redirect-to-an-unexpected-host``).
"""

from __future__ import annotations

import uuid
from collections.abc import Iterator
from typing import Any
from urllib.parse import quote

import pytest
import requests
import responses
from django.core.cache import caches
from django.test import Client
from django.urls import reverse
from django.utils.http import url_has_allowed_host_and_scheme

from django_orkestapay import services
from django_orkestapay.models import Checkout, CheckoutStatus, OrderStatus
from django_orkestapay.signing import RETURN_PARAM
from django_orkestapay.testing import FakeOrkestaPay
from tests.conftest import assert_leads_to_hosted_page, hosted_page_post, local_path, make_order, pay_form
from tests.example_shop import ExampleShop, csrf_token
from tests.test_fault_catalogue import ERROR_TEMPLATE, assert_db_unchanged, db_snapshot, new_rows, pay

pytestmark = pytest.mark.django_db(transaction=True)

API = "https://api.sand.orkestapay.com"

#: What an attacker puts where a redirect target might be read from.
HOSTILE_TARGETS = [
    "https://evil.example/",
    "//evil.example/",
    "/\\evil.example/",
    "\\\\evil.example",
    "https:evil.example",
    "javascript:alert(document.domain)",
    "data:text/html,<script>alert(1)</script>",
    "https://testserver@evil.example/",
    " https://evil.example",
]
NEXT_LIKE_PARAMS = ["next", "redirect", "redirect_to", "return_to", "success_url", "url", "continue"]


def is_off_site(location: str, own_host: str) -> bool:
    """Whether a browser following ``location`` from ``own_host`` would leave the site (or run a script)."""
    return not url_has_allowed_host_and_scheme(location, allowed_hosts={own_host}, require_https=False)


# ---------------------------------------------------------------------------------------------------------------
# The return views: the destination comes from the order or the settings, never from the request
# ---------------------------------------------------------------------------------------------------------------


@pytest.fixture
def shop_destinations(settings: Any, orkestapay_settings: dict[str, Any]) -> dict[str, Any]:
    settings.ORKESTAPAY = {**orkestapay_settings, "SUCCESS_URL": "/thanks/", "CANCEL_URL": "/cart/"}
    return dict(settings.ORKESTAPAY)


@pytest.mark.parametrize("target", HOSTILE_TARGETS)
@pytest.mark.parametrize(("side", "destination"), [("pay", "/thanks/"), ("cancel", "/cart/")])
def test_return_redirects_only_to_the_configured_page(
    side: str,
    destination: str,
    target: str,
    client: Client,
    shop_destinations: dict[str, Any],
    fake_orkestapay: FakeOrkestaPay,
) -> None:
    order = make_order()
    return_url = hosted_page_post(pay(client, order)["Location"], side).headers["Location"]
    hostile = "&".join(f"{name}={quote(target, safe='')}" for name in NEXT_LIKE_PARAMS)
    response = client.get(f"{local_path(return_url)}&{hostile}")
    assert response.status_code == 302
    assert response["Location"] == f"{destination}?order={order.pk}"


@pytest.mark.parametrize("target", [*HOSTILE_TARGETS, "https://testserver.evil.example/"])
@pytest.mark.parametrize(("side", "setting_page"), [("pay", "/thanks/"), ("cancel", "/cart/")])
def test_an_orders_own_return_page_off_site_falls_back_to_the_setting(
    side: str,
    setting_page: str,
    target: str,
    client: Client,
    shop_destinations: dict[str, Any],
    fake_orkestapay: FakeOrkestaPay,
    caplog: pytest.LogCaptureFixture,
) -> None:
    """``success_url`` / ``cancel_url`` on an order (from a shop's adapter, perhaps built from a buyer's ``next``) are
    followed only when they stay on this site."""
    order = make_order(success_url=target, cancel_url=target)
    return_url = hosted_page_post(pay(client, order)["Location"], side).headers["Location"]
    response = client.get(local_path(return_url))
    assert response.status_code == 302
    assert response["Location"] == f"{setting_page}?order={order.pk}"
    assert "Ignored an order return page that is not on this site" in caplog.text


@pytest.mark.parametrize("target", ["/my-orders/42/", "/my-orders/42/?tab=receipt", "http://testserver/my-orders/"])
def test_an_orders_own_return_page_on_this_site_is_used(
    target: str, client: Client, shop_destinations: dict[str, Any], fake_orkestapay: FakeOrkestaPay
) -> None:
    """The control: a page of this site is where the buyer lands, with the order appended."""
    order = make_order(success_url=target)
    completed_url = hosted_page_post(pay(client, order)["Location"], "pay").headers["Location"]
    response = client.get(local_path(completed_url))
    separator = "&" if "?" in target else "?"
    assert response["Location"] == f"{target}{separator}order={order.pk}"


@pytest.mark.parametrize("target", HOSTILE_TARGETS)
def test_return_without_configured_pages_renders_and_reflects_nothing(
    target: str, client: Client, orkestapay_settings: dict[str, Any], fake_orkestapay: FakeOrkestaPay
) -> None:
    order = make_order()
    completed_url = hosted_page_post(pay(client, order)["Location"], "pay").headers["Location"]
    hostile = "&".join(f"{name}={quote(target, safe='')}" for name in NEXT_LIKE_PARAMS)
    response = client.get(f"{local_path(completed_url)}&{hostile}")
    assert response.status_code == 200
    assert not response.has_header("Location")
    assert "evil.example" not in response.content.decode()
    assert "alert(" not in response.content.decode()


def test_rejected_link_does_not_redirect_either(
    client: Client, shop_destinations: dict[str, Any], fake_orkestapay: FakeOrkestaPay
) -> None:
    before = db_snapshot()
    response = client.get(reverse("orkestapay:completed"), {RETURN_PARAM: "forged", "next": "https://evil.example/"})
    assert response.status_code == 400
    assert not response.has_header("Location")
    assert ERROR_TEMPLATE in [template.name for template in response.templates]
    assert_db_unchanged(before)


def test_pay_ignores_a_next_parameter(
    client: Client, orkestapay_settings: dict[str, Any], fake_orkestapay: FakeOrkestaPay
) -> None:
    order = make_order()
    response = client.post(
        reverse("orkestapay:pay") + "?next=https://evil.example/",
        {**pay_form(order), "next": "https://evil.example/", "redirect_url": "https://evil.example/"},
    )
    assert response.status_code == 302
    assert_leads_to_hosted_page(response["Location"], Checkout.objects.get(order=order), fake_orkestapay)


# ---------------------------------------------------------------------------------------------------------------
# The checkout URL OrkestaPay returns (mocked HTTP: any URL the API could send)
# ---------------------------------------------------------------------------------------------------------------


@pytest.fixture
def sandbox_settings(settings: Any) -> Iterator[dict[str, Any]]:
    """Real sandbox settings (no BASE_URL override), so only the default trusted hosts apply; HTTP is mocked."""
    settings.ORKESTAPAY = {"CLIENT_ID": "client-id", "CLIENT_SECRET": "client-secret-for-mocks", "MAX_RETRIES": 0}
    caches["default"].clear()
    yield settings.ORKESTAPAY
    caches["default"].clear()


@pytest.fixture
def api() -> Iterator[responses.RequestsMock]:
    with responses.RequestsMock(assert_all_requests_are_fired=False) as mock:
        mock.post(f"{API}/v1/oauth/tokens", json={"access_token": "tok", "token_type": "Bearer", "expires_in": 1800})
        yield mock


def answer_checkout(api: responses.RequestsMock, redirect_url: str) -> None:
    """Make POST /v1/checkouts answer with ``redirect_url`` as ``checkout_redirect_url``."""
    api.post(
        f"{API}/v1/checkouts",
        json={
            "checkout_id": f"chk_{uuid.uuid4().hex}",
            "checkout_redirect_url": redirect_url,
            "order": {"order_id": f"ord_{uuid.uuid4().hex}", "status": "CREATED"},
        },
    )


def checkout_posts(api: responses.RequestsMock) -> int:
    """How many POST /v1/checkouts requests were made."""
    return len(
        [call for call in api.calls if (call.request.method, call.request.url) == ("POST", f"{API}/v1/checkouts")]
    )


UNTRUSTED_CHECKOUT_URLS = {
    "another-host": "https://evil.example/checkout/chk_1",
    "lookalike-suffix": "https://evilorkestapay.com/checkout/chk_1",
    "trusted-name-as-a-subdomain-of-evil": "https://checkout.orkestapay.com.evil.example/chk_1",
    "userinfo-trick": "https://checkout.orkestapay.com@evil.example/chk_1",
    "backslash-userinfo-trick": "https://evil.example\\@checkout.orkestapay.com/chk_1",
    "percent-encoded-slash-in-host": "https://evil.example%2F.orkestapay.com/chk_1",
    "fullwidth-slash-in-host": "https://evil.example\uff0f.orkestapay.com/chk_1",
    "unclosed-ipv6-bracket": "https://[evil.example/chk_1",
    "plain-http-on-a-trusted-host": "http://checkout.orkestapay.com/chk_1",
    "protocol-relative": "//checkout.orkestapay.com/chk_1",
    "relative-path": "/admin/",
    "javascript": "javascript:alert(document.domain)",
    "data-url": "data:text/html,<script>alert(1)</script>",
    "ftp": "ftp://checkout.orkestapay.com/chk_1",
    "empty-host": "https:///chk_1",
}


@pytest.mark.parametrize("url", list(UNTRUSTED_CHECKOUT_URLS.values()), ids=list(UNTRUSTED_CHECKOUT_URLS))
def test_untrusted_checkout_url_is_never_followed(
    url: str, client: Client, sandbox_settings: dict[str, Any], api: responses.RequestsMock
) -> None:
    order = make_order()
    answer_checkout(api, url)
    before = db_snapshot()

    response = pay(client, order)

    assert response.status_code == 503
    assert not response.has_header("Location")
    assert ERROR_TEMPLATE in [template.name for template in response.templates]
    assert "evil.example" not in response.content.decode()
    assert checkout_posts(api) == 1
    assert_db_unchanged(before, allowed={"Order": {"last_error", "updated_at"}}, added=["Checkout"])
    (failed,) = new_rows(before, "Checkout")
    assert (failed["status"], failed["redirect_url"]) == (CheckoutStatus.FAILED, "")
    assert failed["error"]
    order.refresh_from_db()
    assert order.status == OrderStatus.CREATED
    assert order.last_error
    assert not services.is_trusted_checkout_url(url)


TRUSTED_CHECKOUT_URLS = {
    "sandbox-checkout-host": "https://checkout.sand.orkestapay.com/checkout/chk_1?lang=es",
    "apex-domain": "https://orkestapay.com/checkout/chk_1",
    "orkesta-io": "https://pay.orkesta.io/chk_1",
    "upper-case-host": "https://CHECKOUT.ORKESTAPAY.COM/chk_1",
    "explicit-port": "https://checkout.orkestapay.com:443/chk_1",
}


@pytest.mark.parametrize("url", list(TRUSTED_CHECKOUT_URLS.values()), ids=list(TRUSTED_CHECKOUT_URLS))
def test_trusted_checkout_url_is_followed(
    url: str, client: Client, sandbox_settings: dict[str, Any], api: responses.RequestsMock
) -> None:
    """The controls for the cases above: OrkestaPay's own hosts are followed, once."""
    order = make_order()
    answer_checkout(api, url)
    response = pay(client, order)
    assert response.status_code == 302
    assert response["Location"] == url
    assert Checkout.objects.get(order=order).status == CheckoutStatus.OPEN
    assert checkout_posts(api) == 1


def test_checkout_hosts_setting_replaces_the_defaults(
    client: Client, settings: Any, sandbox_settings: dict[str, Any], api: responses.RequestsMock
) -> None:
    settings.ORKESTAPAY = {**sandbox_settings, "CHECKOUT_HOSTS": ["pay.example.com"]}
    refused, accepted = make_order(), make_order()
    answer_checkout(api, "https://checkout.orkestapay.com/chk_1")  # answered first (responses keeps the order)
    answer_checkout(api, "https://pay.example.com/chk_2")
    assert pay(client, refused).status_code == 503
    response = pay(client, accepted)
    assert response.status_code == 302
    assert response["Location"] == "https://pay.example.com/chk_2"


# ---------------------------------------------------------------------------------------------------------------
# The example shop (the demo, as scripts/demo runs it)
# ---------------------------------------------------------------------------------------------------------------


def switch_language(shop: ExampleShop, target: str) -> requests.Response:
    """Post the demo's language form with ``target`` as ``next`` (and as the Referer it falls back to)."""
    session = requests.Session()
    page = session.get(f"{shop.base}/", timeout=10)
    return session.post(
        f"{shop.base}/i18n/setlang/",
        data={"csrfmiddlewaretoken": csrf_token(page.text), "language": "en", "next": target},
        headers={"Referer": target.strip()},
        allow_redirects=False,
        timeout=10,
    )


@pytest.mark.standalone
@pytest.mark.parametrize("target", HOSTILE_TARGETS)
def test_demo_language_switch_never_leaves_the_site(target: str, example_shop: ExampleShop) -> None:
    response = switch_language(example_shop, target)
    assert response.status_code == 302
    assert response.headers["Location"] == "/"
    assert not is_off_site(response.headers["Location"], example_shop.base.removeprefix("http://"))


@pytest.mark.standalone
def test_demo_language_switch_follows_a_local_next(example_shop: ExampleShop) -> None:
    """The control: a path on the shop itself is where the buyer goes back to."""
    response = switch_language(example_shop, "/products/pantalla-tcl-40/")
    assert response.status_code == 302
    assert response.headers["Location"] == "/products/pantalla-tcl-40/"


@pytest.mark.standalone
@pytest.mark.parametrize("target", ["https://evil.example/", "//evil.example/", "not-a-uuid", str(uuid.uuid4())])
@pytest.mark.parametrize("page", ["thanks", "canceled"])
def test_demo_landing_pages_take_no_url(page: str, target: str, example_shop: ExampleShop) -> None:
    response = requests.get(
        f"{example_shop.base}/{page}/", params={"order": target, "next": target}, allow_redirects=False, timeout=10
    )
    assert response.status_code == 404
    assert "Location" not in response.headers
