import re

import pytest
from django.template import Context, Template
from django.test import RequestFactory

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
