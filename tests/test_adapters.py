"""Paying for a shop's own objects: the Payable protocol, the ADAPTER setting, the signed pay button, and the
return pages an object chooses."""

from decimal import Decimal

import pytest
from django.core import signing
from django.core.exceptions import ImproperlyConfigured
from django.template import Context, Template
from django.test import RequestFactory
from django.urls import reverse

from django_orkestapay import adapters, services
from django_orkestapay.models import Order, OrderStatus
from tests.conftest import local_path
from tests.shop.models import Cart

pytestmark = pytest.mark.django_db


def test_order_for_links_the_cart_and_uses_its_description():
    cart = Cart.objects.create(reference="42")
    order = services.order_for(cart)
    assert order.shop_object == cart
    assert (order.merchant_order_id, order.total_amount, order.currency) == ("CART-42", Decimal("598.00"), "MXN")
    assert order.customer_email == "ana@example.mx"
    assert order.success_url == f"/shop/carts/{cart.pk}/thanks/"
    assert services.order_for(cart).pk == order.pk  # same description: the same unpaid order
    assert Order.objects.count() == 1


def test_a_changed_cart_gets_a_new_order_and_the_old_one_is_kept(monkeypatch):
    cart = Cart.objects.create(reference="7")
    first = services.order_for(cart)
    bigger = adapters.PaymentDescription(
        items=[{"name": "Taza", "quantity": 3, "unit_price": Decimal("249.50")}],
        customer={"first_name": "Ana", "last_name": "López", "email": "ana@example.mx"},
        merchant_order_id="CART-7",
    )
    monkeypatch.setattr(Cart, "orkestapay_payment", lambda self: bigger)
    second = services.order_for(cart)
    assert second.pk != first.pk
    assert second.merchant_order_id == "CART-7-2"
    assert second.total_amount == Decimal("748.50")
    assert set(services.linked_orders(cart)) == {first, second}


def test_a_paid_order_is_returned_rather_than_a_new_one():
    cart = Cart.objects.create(reference="9")
    order = services.order_for(cart)
    Order.objects.filter(pk=order.pk).update(status=OrderStatus.PAID)
    assert services.order_for(cart).pk == order.pk
    assert services.paid_order_for(cart) == order


def test_the_adapter_setting_wins_over_the_method(settings):
    settings.ORKESTAPAY = {**settings.ORKESTAPAY, "ADAPTER": "tests.shop.adapters.describe_cart"}
    order = services.order_for(Cart.objects.create(reference="A1"))
    assert (order.total_amount, order.currency, order.customer_first_name) == (Decimal("500.00"), "USD", "Luis")
    assert order.merchant_order_id.startswith("ORD-")


@pytest.mark.parametrize("path", ["tests.shop.adapters.missing", "tests.shop.adapters.not_callable"])
def test_a_broken_adapter_setting_is_a_configuration_error(settings, path):
    settings.ORKESTAPAY = {**settings.ORKESTAPAY, "ADAPTER": path}
    with pytest.raises(ImproperlyConfigured):
        services.order_for(Cart.objects.create(reference="B"))
    assert Order.objects.count() == 0


def test_an_object_nobody_describes_is_a_configuration_error(django_user_model):
    user = django_user_model.objects.create(username="u")
    with pytest.raises(ImproperlyConfigured, match="orkestapay_payment"):
        services.order_for(user)


def test_our_migrations_depend_on_no_shop_app():
    from django.db.migrations.loader import MigrationLoader

    loader = MigrationLoader(None, ignore_no_migrations=True)
    for (app_label, _name), migration in loader.disk_migrations.items():
        if app_label == "orkestapay":
            assert {dep[0] for dep in migration.dependencies} <= {"orkestapay", "contenttypes"}


def render_button(target):
    request = RequestFactory().get("/")
    return Template("{% load orkestapay %}{% orkestapay_button target %}").render(
        Context({"target": target, "request": request, "csrf_token": "tok"})
    )


def test_button_for_a_shop_object_posts_a_signed_reference_and_makes_no_order():
    cart = Cart.objects.create(reference="C1")
    html = render_button(cart)
    assert 'name="object"' in html
    assert "598" not in html  # no amounts in the form
    assert Order.objects.count() == 0
    reference = html.split('name="object" value="')[1].split('"')[0]
    assert adapters.load_shop_object(reference) == cart


def test_button_for_a_paid_shop_object_says_paid():
    cart = Cart.objects.create(reference="C2")
    Order.objects.filter(pk=services.order_for(cart).pk).update(status=OrderStatus.PAID)
    html = render_button(cart)
    assert 'data-testid="orkestapay-paid"' in html
    assert "<form" not in html


@pytest.mark.parametrize(
    "reference",
    ["", "garbage", "x" * 600, "wrong-salt", "other-model"],
)
def test_pay_with_a_forged_object_reference_is_400_and_creates_nothing(client, reference):
    cart = Cart.objects.create(reference="F1")
    if reference == "wrong-salt":  # a value signed with our SECRET_KEY for another purpose
        reference = signing.dumps({"m": "shop.cart", "k": str(cart.pk)})
    elif reference == "other-model":  # signed for an object that is no shop object
        reference = signing.dumps({"m": "auth.user", "k": "1"}, salt=adapters.SHOP_OBJECT_SALT + "x")
    response = client.post(reverse("orkestapay:pay"), {"object": reference})
    assert response.status_code == 400
    assert Order.objects.count() == 0


def test_pay_with_a_reference_to_a_deleted_object_is_404(client):
    cart = Cart.objects.create(reference="gone")
    reference = adapters.sign_shop_object(cart)
    cart.delete()
    assert client.post(reverse("orkestapay:pay"), {"object": reference}).status_code == 404


def test_pay_for_a_shop_object_and_land_on_its_own_page(client, orkestapay_settings, fake_orkestapay):
    cart = Cart.objects.create(reference="D1")
    response = client.post(reverse("orkestapay:pay"), {"object": adapters.sign_shop_object(cart)})
    assert response.status_code == 302
    order = Order.objects.get()
    assert order.shop_object == cart
    checkout = order.checkouts.get()
    assert response["Location"] == checkout.redirect_url
    completed = fake_orkestapay.pay(checkout.orkestapay_checkout_id)
    back = client.get(local_path(completed))
    assert back.status_code == 302
    assert back["Location"] == f"/shop/carts/{cart.pk}/thanks/?order={order.pk}"
    again = client.post(reverse("orkestapay:pay"), {"object": adapters.sign_shop_object(cart)})
    assert again.status_code == 409  # paid: nothing more to pay
    assert Order.objects.count() == 1


@pytest.mark.parametrize(
    "page", ["https://evil.example/phish", "//evil.example/phish", "javascript:alert(1)", "http://testserver.evil/"]
)
def test_an_order_page_off_this_site_is_ignored(client, orkestapay_settings, fake_orkestapay, page):
    order = services.create_order(
        items=[{"name": "Taza", "quantity": 1, "unit_price": "100"}],
        customer={"first_name": "A", "last_name": "B", "email": "a@example.mx"},
        success_url=page,
    )
    checkout = services.start_checkout(order, build_absolute_uri=lambda p: f"http://testserver{p}")
    completed = fake_orkestapay.pay(checkout.orkestapay_checkout_id)
    response = client.get(local_path(completed))
    assert response.status_code == 200  # the app's own success page, not the foreign URL
    assert b'data-testid="orkestapay-paid"' in response.content


@pytest.mark.parametrize(
    ("language", "configured", "order_locale", "expected"),
    [
        ("es-mx", None, "", "ES_LATAM"),
        ("es", None, "", "ES_LATAM"),
        ("en", None, "", "ES_LATAM"),  # the default project language "en-us": only ES_LATAM is documented
        ("en-us", None, "", "ES_LATAM"),
        ("fr", None, "", "ES_LATAM"),
        ("en", "ES_LATAM", "", "ES_LATAM"),
        ("en", "EN_US", "", "EN_US"),  # configured: sent as is
        ("en", None, "PT_BR", "PT_BR"),
    ],
)
def test_checkout_locale_follows_the_active_language_when_not_set(
    settings, language, configured, order_locale, expected
):
    from django.utils import translation

    settings.ORKESTAPAY = {**settings.ORKESTAPAY, "LOCALE": configured}
    order = Order(locale=order_locale)
    with translation.override(language):
        assert services.checkout_locale(order) == expected


@pytest.mark.parametrize(("language", "expected"), [("en-us", "EN_US"), ("en", "EN_US"), ("es-mx", "ES_LATAM")])
def test_checkout_locale_sends_en_us_only_when_mapped(settings, language, expected):
    from django.utils import translation

    settings.ORKESTAPAY = {**settings.ORKESTAPAY, "LANGUAGE_LOCALES": {"es": "ES_LATAM", "en": "EN_US"}}
    with translation.override(language):
        assert services.checkout_locale(Order()) == expected


def test_a_shop_object_whose_amounts_do_not_add_up_gets_a_clear_400(client, monkeypatch):
    cart = Cart.objects.create(reference="BAD")
    broken = adapters.PaymentDescription(
        items=[{"name": "Taza", "quantity": 1, "unit_price": Decimal("-1")}],
        customer={"first_name": "A", "last_name": "B", "email": "a@example.mx"},
    )
    monkeypatch.setattr(Cart, "orkestapay_payment", lambda self: broken)
    response = client.post(reverse("orkestapay:pay"), {"object": adapters.sign_shop_object(cart)})
    assert response.status_code == 400
    assert b'data-testid="orkestapay-error"' in response.content
    assert Order.objects.count() == 0
