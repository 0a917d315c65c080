"""Payment links (services.payment_links, the orkestapay:payment_link page, the admin): an order's pay page at an
unguessable address with its own lifetime, revocable, that opens for whoever holds it, pays once however often it
is pressed, and says paid afterwards."""

from __future__ import annotations

import re
import threading
from collections import Counter
from concurrent.futures import ThreadPoolExecutor
from datetime import timedelta
from typing import Any
from urllib.parse import urlsplit

import pytest
import requests
from django.contrib.auth.models import Permission, User
from django.db import connection
from django.test import Client
from django.urls import reverse
from django.utils import timezone

from django_orkestapay import services, signals
from django_orkestapay.exceptions import OrderNotPayableError, PaymentLinkUnusableError
from django_orkestapay.models import Checkout, Order, OrderStatus, PaymentLink
from django_orkestapay.testing import hosted_page_url
from tests.conftest import hosted_page_post, local_path, make_order, make_paid_order

pytestmark = pytest.mark.django_db

BUILD = "https://shop.example{}".format


def link_for(order: Order, **kwargs: Any) -> PaymentLink:
    return services.create_payment_link(order, build_absolute_uri=lambda path: BUILD(path), **kwargs)


def page(client: Client, link: PaymentLink) -> Any:
    return client.get(link.get_absolute_url(), HTTP_ACCEPT_LANGUAGE="en")


def press_pay(client: Client, link: PaymentLink) -> Any:
    return client.post(link.get_absolute_url(), HTTP_ACCEPT_LANGUAGE="en")


# -------------------------------------------------------------------------------------------------------- creating


def test_a_links_token_is_unguessable_and_never_its_key(settings):
    order = make_order()
    links = [link_for(order) for _ in range(20)]

    tokens = {link.token for link in links}
    assert len(tokens) == 20
    for link in links:
        assert re.fullmatch(r"[A-Za-z0-9_-]{43}", link.token)  # 256 random bits
        assert str(link.pk) not in link.token
        assert link.pk.hex not in link.token
        assert str(order.pk) not in link.get_absolute_url()
        assert link.get_absolute_url() == f"/orkestapay/link/{link.token}/"


def test_the_lifetime_is_the_settings_or_the_links_own(settings):
    order = make_order()
    before = timezone.now()
    default = link_for(order)
    own = link_for(order, lifetime=3600)
    forever = link_for(order, lifetime=None)
    settings.ORKESTAPAY = {**settings.ORKESTAPAY, "PAYMENT_LINK_LIFETIME": 60}
    short = link_for(order)
    settings.ORKESTAPAY = {**settings.ORKESTAPAY, "PAYMENT_LINK_LIFETIME": None}
    unset = link_for(order)

    assert default.expires_at is not None
    assert timedelta(days=7) <= default.expires_at - before < timedelta(days=7, minutes=1)  # the default: a week
    assert own.expires_at is not None
    assert timedelta(hours=1) <= own.expires_at - before < timedelta(hours=1, minutes=1)
    assert short.expires_at is not None
    assert short.expires_at - before < timedelta(minutes=2)
    assert (forever.expires_at, unset.expires_at) == (None, None)
    for bad in (0, -5, True):
        with pytest.raises(ValueError, match="positive number of seconds"):
            link_for(order, lifetime=bad)


def test_a_paid_order_gets_no_link(orkestapay_settings, fake_orkestapay):
    order = make_paid_order(fake_orkestapay)
    with pytest.raises(OrderNotPayableError):
        link_for(order)
    assert not PaymentLink.objects.exists()


def test_the_signal_hands_the_shop_the_url_to_send_once_committed(settings, django_capture_on_commit_callbacks):
    sent: list[dict[str, Any]] = []

    def send_it(sender: Any, **kwargs: Any) -> None:
        sent.append(kwargs)

    signals.payment_link_created.connect(send_it, dispatch_uid="test-send-link")
    try:
        order = make_order()
        with django_capture_on_commit_callbacks(execute=True):
            link = link_for(order)
            assert sent == []  # not before the commit
        settings.ORKESTAPAY = {**settings.ORKESTAPAY, "RETURN_BASE_URL": "https://tienda.example/"}
        with django_capture_on_commit_callbacks(execute=True):
            behind_a_proxy = link_for(order)
        settings.ORKESTAPAY = {**settings.ORKESTAPAY, "RETURN_BASE_URL": None}
        with django_capture_on_commit_callbacks(execute=True):
            from_a_task = services.create_payment_link(order)
    finally:
        signals.payment_link_created.disconnect(dispatch_uid="test-send-link")

    assert [(kwargs["link"], kwargs["order"]) for kwargs in sent] == [
        (link, order),
        (behind_a_proxy, order),
        (from_a_task, order),
    ]
    assert sent[0]["url"] == f"https://shop.example/orkestapay/link/{link.token}/"
    assert sent[1]["url"] == f"https://tienda.example/orkestapay/link/{behind_a_proxy.token}/"
    assert sent[2]["url"] == f"/orkestapay/link/{from_a_task.token}/"  # no request, no RETURN_BASE_URL: the path


# ---------------------------------------------------------------------------------------------------------- the page


def test_the_page_shows_the_order_in_the_shops_money_and_its_pay_button(client):
    order = make_order(shipping_amount="99.00")
    link = link_for(order)

    response = page(client, link)
    html = response.content.decode()

    assert response.status_code == 200
    assert 'data-testid="orkestapay-payment-link"' in html
    assert order.merchant_order_id in html
    assert "Pantalla TCL 40" in html
    assert "1 \u00d7 $1,000.00 MXN" in html  # quantity x unit price
    assert "-$10.00 MXN" in html  # the discount
    assert 'data-testid="orkestapay-link-total">$1,089.00 MXN<' in html
    assert f'action="{link.get_absolute_url()}"' in html
    assert ">Pay with OrkestaPay</button>" in html
    assert 'data-testid="orkestapay-link-expiry"' in html
    # whoever holds the link sees this page: not the buyer's details
    assert "john@example.com" not in html
    assert "Doe" not in html
    assert response["Referrer-Policy"] == "same-origin"
    assert response["X-Robots-Tag"] == "noindex, nofollow"
    assert "no-cache" in response["Cache-Control"]


def test_opening_a_link_twice_changes_nothing(client, orkestapay_settings, fake_orkestapay):
    link = link_for(make_order())
    first, second = page(client, link), page(client, link)  # the buyer, and the chat app's link preview

    assert first.status_code == second.status_code == 200
    assert not Checkout.objects.exists()
    assert fake_orkestapay.count_requests("POST", "/v1/checkouts") == 0


def test_another_buyer_opens_the_link_and_pays_the_same_order(orkestapay_settings, fake_orkestapay):
    order = make_order()
    link = link_for(order)
    buyer, someone_else = Client(), Client()

    assert page(buyer, link).status_code == 200
    opened = page(someone_else, link)  # no session, no login: the link is the key
    paid_by_other = press_pay(someone_else, link)

    assert opened.status_code == 200
    assert "john@example.com" not in opened.content.decode()
    assert paid_by_other.status_code == 302
    checkout = Checkout.objects.get()
    assert checkout.order_id == order.pk  # the money can only go to the link's order
    assert paid_by_other["Location"] == checkout.redirect_url


@pytest.mark.parametrize("token", ["nope", "x" * 43, "a" * 42 + "!", "-" * 44, "é" * 43])
def test_an_unknown_link_gets_a_clear_404(client, django_assert_num_queries, token):
    response = client.get(f"/orkestapay/link/{token}/", HTTP_ACCEPT_LANGUAGE="en")
    assert response.status_code == 404
    assert "Payment link not found" in response.content.decode()
    if len(token) != 43:
        with django_assert_num_queries(0), pytest.raises(PaymentLinkUnusableError):  # not a token: no query
            services.resolve_payment_link(token)


def test_an_expired_link_gets_a_clear_page_and_pays_nothing(client, orkestapay_settings, fake_orkestapay):
    order = make_order()
    link = link_for(order, lifetime=60)
    PaymentLink.objects.filter(pk=link.pk).update(expires_at=timezone.now() - timedelta(seconds=1))

    shown, pressed = page(client, link), press_pay(client, link)

    assert (shown.status_code, pressed.status_code) == (410, 410)
    html = shown.content.decode()
    assert "This payment link has expired" in html
    assert "Ask the shop for a new link" in html
    assert "Pantalla TCL 40" not in html  # no order details once the link is over
    assert not Checkout.objects.exists()
    with pytest.raises(PaymentLinkUnusableError) as caught:
        services.resolve_payment_link(link.token)
    assert caught.value.reason == "expired"


def test_a_revoked_link_gets_a_clear_page_even_if_its_page_was_open(client, orkestapay_settings, fake_orkestapay):
    link = link_for(make_order())
    opened = page(client, link)  # the buyer opened it before the shop revoked it

    assert services.revoke_payment_link(link, revoked_by="ana") is True
    assert services.revoke_payment_link(link, revoked_by="luis") is False  # once
    pressed = press_pay(client, link)

    assert opened.status_code == 200
    assert pressed.status_code == 410
    assert "This payment link is no longer valid" in pressed.content.decode()
    assert not Checkout.objects.exists()
    link.refresh_from_db()
    assert (link.revoked_by, link.status) == ("ana", "revoked")


def test_paying_through_the_link_comes_back_to_it_and_it_says_paid(client, orkestapay_settings, fake_orkestapay):
    order = make_order()
    link = link_for(order)

    hosted = press_pay(client, link)["Location"]
    completed = hosted_page_post(hosted, "pay").headers["Location"]
    back = client.get(local_path(completed), HTTP_ACCEPT_LANGUAGE="en")

    assert back.status_code == 302
    assert urlsplit(back["Location"]).path == link.get_absolute_url()  # the link's page, not the shop's session page
    after = page(client, link)
    html = after.content.decode()
    assert 'data-testid="orkestapay-link-paid"' in html
    assert "Thank you! This order is paid." in html
    assert 'data-testid="orkestapay-pay-button"' not in html
    assert Order.objects.get(pk=order.pk).status == OrderStatus.PAID
    # a paid order's link, once expired, still says the order is paid (and nothing else)
    PaymentLink.objects.filter(pk=link.pk).update(expires_at=timezone.now() - timedelta(seconds=1))
    expired = page(client, link)
    assert expired.status_code == 410
    assert "This order is paid." in expired.content.decode()


def test_canceling_on_the_hosted_page_comes_back_to_the_link_to_try_again(client, orkestapay_settings, fake_orkestapay):
    link = link_for(make_order())
    hosted = press_pay(client, link)["Location"]
    canceled = hosted_page_post(hosted, "cancel").headers["Location"]

    back = client.get(local_path(canceled), HTTP_ACCEPT_LANGUAGE="en")
    html = page(client, link).content.decode()

    assert urlsplit(back["Location"]).path == link.get_absolute_url()
    assert 'data-testid="orkestapay-canceled"' in html
    assert ">Try again</button>" in html


def test_a_shops_own_return_pages_are_kept(client, orkestapay_settings, fake_orkestapay):
    order = make_order(success_url="/cart/done/", cancel_url="")
    link = link_for(order)
    press_pay(client, link)

    order.refresh_from_db()
    assert (order.success_url, order.cancel_url) == ("/cart/done/", link.get_absolute_url())
    newer = link_for(order)
    press_pay(client, newer)  # the open checkout is reused; the return now names the newer link
    order.refresh_from_db()
    assert order.cancel_url == newer.get_absolute_url()
    assert Checkout.objects.filter(order=order).count() == 1


def test_a_transfer_on_its_way_shows_on_the_link_and_it_offers_no_button(client, orkestapay_settings, fake_orkestapay):
    link = link_for(make_order())
    hosted = press_pay(client, link)["Location"]
    fake_orkestapay.pay_pending(hosted_page_url(hosted).rsplit("/", 1)[-1])  # either form of the hosted page's URL
    services.sync_order(link.order)

    html = page(client, link).content.decode()
    again = press_pay(client, link)

    assert "Your payment is on its way" in html
    # the transfer's details as the rich fake invents them; no source shows them, so the evidence profile has none
    details = "orkestapay-clabe" if fake_orkestapay.profile == "rich" else "orkestapay-no-details"
    assert f'data-testid="{details}"' in html
    assert 'data-testid="orkestapay-pay-button"' not in html
    assert again.status_code == 409  # a page opened before: still refused
    assert "A payment is in progress" in again.content.decode()
    assert Checkout.objects.count() == 1


# --------------------------------------------------------------------------------------------------- concurrency


@pytest.mark.postgres
@pytest.mark.django_db(transaction=True)
def test_concurrent_presses_through_the_link_make_one_checkout(live_server, orkestapay_settings, fake_orkestapay):
    """Eight tabs (or eight people the link was forwarded to) press *Pay* at once: one checkout, one hosted page."""
    if connection.vendor != "postgresql":
        pytest.skip("needs PostgreSQL: set TEST_DATABASE_URL (scripts/test does)")
    link = link_for(make_order())
    url = f"{live_server.url}{link.get_absolute_url()}"
    barrier = threading.Barrier(8)

    def press(_: int) -> str:
        session = requests.Session()
        html = session.get(url, timeout=10).text
        token = re.search(r'name="csrfmiddlewaretoken" value="([^"]+)"', html).group(1)  # type: ignore[union-attr]
        barrier.wait()
        answer = session.post(url, data={"csrfmiddlewaretoken": token}, allow_redirects=False, timeout=20)
        return f"{answer.status_code} {answer.headers.get('Location', '')}"

    with ThreadPoolExecutor(max_workers=8) as pool:
        outcomes = Counter(pool.map(press, range(8)))

    (checkout,) = Checkout.objects.filter(order=link.order)
    assert outcomes == Counter({f"302 {checkout.redirect_url}": 8})
    assert fake_orkestapay.count_requests("POST", "/v1/checkouts") == 1


# ---------------------------------------------------------------------------------------------------------- admin


@pytest.fixture
def operator(db: None) -> User:
    user = User.objects.create_user("ana", password="x", is_staff=True)
    codenames = ["view_order", "change_order", "view_paymentlink", "add_paymentlink", "change_paymentlink"]
    user.user_permissions.set(Permission.objects.filter(codename__in=codenames))
    return user


def test_an_operator_adds_a_link_in_the_admin_and_copies_its_url(client, operator):
    order = make_order()
    client.force_login(operator)

    added = client.post(
        reverse("admin:orkestapay_paymentlink_add"), {"order": str(order.pk), "lifetime_hours": "2"}, follow=True
    )

    link = PaymentLink.objects.get()
    assert (link.order, link.created_by) == (order, "ana")
    assert link.expires_at is not None
    assert timedelta(hours=1, minutes=59) < link.expires_at - timezone.now() <= timedelta(hours=2)
    assert f"http://testserver/orkestapay/link/{link.token}/" in added.content.decode()  # the message, to copy


def test_the_order_admin_makes_links_and_the_link_admin_revokes_them(client, operator, orkestapay_settings):
    payable, paid = make_order(), make_order()
    Order.objects.filter(pk=paid.pk).update(status=OrderStatus.PAID)
    client.force_login(operator)
    orders = reverse("admin:orkestapay_order_changelist")

    made = client.post(
        orders,
        {"action": "create_payment_links", "_selected_action": [payable.pk, paid.pk]},
        follow=True,
        HTTP_ACCEPT_LANGUAGE="en",
    )
    link = PaymentLink.objects.get()
    assert link.order == payable
    text = made.content.decode()
    assert f"/orkestapay/link/{link.token}/" in text
    assert "1 order can no longer be paid: no link was made for it." in text

    links = reverse("admin:orkestapay_paymentlink_changelist")
    asked = client.post(links, {"action": "revoke", "_selected_action": [link.pk]}, HTTP_ACCEPT_LANGUAGE="en")
    assert "Revoke these payment links?" in asked.content.decode()
    client.post(links, {"action": "revoke", "_selected_action": [link.pk], "confirm": "yes"})
    link.refresh_from_db()
    assert (link.status, link.revoked_by) == ("revoked", "ana")
    revoked = client.get(links, {"status": "revoked"}).content.decode()
    active = client.get(links, {"status": "active"}).content.decode()
    assert link.token[:8] in revoked
    assert link.token[:8] not in active


def test_making_links_from_the_order_admin_needs_the_permission(client, operator):
    order = make_order()
    operator.user_permissions.remove(Permission.objects.get(codename="add_paymentlink"))
    client.force_login(operator)
    orders = reverse("admin:orkestapay_order_changelist")

    listed = client.get(orders, HTTP_ACCEPT_LANGUAGE="en").content.decode()
    client.post(orders, {"action": "create_payment_links", "_selected_action": [order.pk]})  # forged

    assert 'value="refresh_from_orkestapay"' in listed
    assert 'value="create_payment_links"' not in listed  # not offered
    assert not PaymentLink.objects.exists()
