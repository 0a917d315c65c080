import re
from decimal import Decimal

import pytest
from django.template import Context, Template
from django.test import RequestFactory
from django.utils import translation

from django_orkestapay.signing import load_pay_reference
from tests.conftest import make_order

pytestmark = pytest.mark.django_db


def render(order, extra=""):
    template = Template("{% load orkestapay %}{% orkestapay_button order " + extra + " %}")
    return template.render(Context({"order": order, "csrf_token": "TOKEN123", "request": RequestFactory().get("/")}))


def test_button_posts_a_signed_order_reference_and_csrf_but_no_amounts():
    order = make_order()
    html = render(order)
    assert 'method="post"' in html
    assert 'action="/orkestapay/pay/"' in html
    assert 'value="TOKEN123"' in html
    reference = re.search(r'name="order" value="([^"]+)"', html).group(1)  # type: ignore[union-attr]
    assert load_pay_reference(reference) == order.pk
    assert str(order.pk) not in html  # never the bare id
    assert order.pk.hex not in html
    without_reference = html.replace(reference, "")  # a signature may itself contain "990"
    assert "990" not in without_reference
    assert "1000" not in without_reference
    assert set(re.findall(r'name="([^"]+)"', html)) == {"csrfmiddlewaretoken", "order"}


def test_button_label_and_class_can_be_set():
    html = render(make_order(), 'label="Pagar ahora" css_class="btn"')
    assert "Pagar ahora" in html
    assert 'class="btn"' in html


def test_paid_order_shows_no_button():
    order = make_order()
    order.status = "paid"
    html = render(order)
    assert "<form" not in html
    assert 'data-testid="orkestapay-paid"' in html


@pytest.mark.parametrize(
    ("status", "testid", "says"),
    [
        ("paid", "orkestapay-paid", "This order is paid."),
        ("partially_refunded", "orkestapay-paid", "This order is paid; part of it was refunded."),
        ("refunded", "orkestapay-refunded", "This order was refunded."),
    ],
)
def test_a_paid_or_refunded_order_says_which(status, testid, says):
    order = make_order()
    order.status = status
    with translation.override("en"):
        html = render(order)
    assert "<form" not in html
    assert f'data-testid="{testid}"' in html
    assert says in html


@pytest.mark.parametrize(
    ("language", "amount", "currency", "shown"),
    [
        ("en", Decimal("1000"), "MXN", "$1,000.00 MXN"),
        ("es-mx", Decimal("1234567.5"), "MXN", "$1,234,567.50 MXN"),
        ("es", Decimal("1000"), "MXN", "$1\xa0000,00 MXN"),  # Spain's Spanish: a decimal comma, grouped by a space
        ("en", "249.50", "USD", "$249.50 USD"),
        ("es-mx", Decimal("-30"), "MXN", "-$30.00 MXN"),
        ("es-mx", Decimal("1000"), "PEN", "S/\xa01,000.00 PEN"),
        ("es-mx", Decimal("1000"), "XYZ", "1,000.00 XYZ"),  # no known symbol: the code alone
        ("en", 7, "", "7.00"),
        ("en", "n/a", "MXN", "n/a MXN"),  # not an amount: shown as it is
    ],
)
def test_money_filter_writes_amounts_the_active_languages_way(language, amount, currency, shown):
    template = Template("{% load orkestapay %}{{ amount|orkestapay_money:currency }}")
    with translation.override(language):
        assert template.render(Context({"amount": amount, "currency": currency})) == shown
