"""Text fields refuse NUL and other control characters (tab and newlines only in descriptions) with a
``ValidationError`` naming the field, on every database: scripts/test runs this module on SQLite and PostgreSQL,
where a NUL used to be a 500."""

from __future__ import annotations

from decimal import Decimal
from typing import Any

import pytest
from django.core.exceptions import ValidationError
from django.db import models
from django.urls import reverse
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

from django_orkestapay import adapters, services
from django_orkestapay.adapters import PaymentDescription
from django_orkestapay.models import Order
from tests.conftest import make_order
from tests.shop.models import Cart

pytestmark = pytest.mark.django_db(transaction=True)

ITEM = {"product_id": "mug", "name": "Taza", "quantity": 1, "unit_price": Decimal("100")}
CUSTOMER = {"first_name": "Ana", "last_name": "López", "email": "ana@example.mx"}
HOSTILE = ["\x00", "\x1b", "\x7f", "\x85", "\ud800"]  # NUL, ESC, DEL, a C1 control, a lone surrogate
#: (where, field named in the error, how to put a value there)
PLACES: dict[str, tuple[str, Any]] = {
    "item name": ("items", lambda v: {"items": [{**ITEM, "name": f"Taza{v}grande"}]}),
    "item description": ("items", lambda v: {"items": [{**ITEM, "description": f"Roja{v}"}]}),
    "product id": ("items", lambda v: {"items": [{**ITEM, "product_id": f"mug{v}"}]}),
    "first name": ("customer", lambda v: {"customer": {**CUSTOMER, "first_name": f"Ana{v}"}}),
    "last name": ("customer", lambda v: {"customer": {**CUSTOMER, "last_name": f"Ló{v}pez"}}),
    "email": ("customer", lambda v: {"customer": {**CUSTOMER, "email": f"ana{v}@example.mx"}}),
    "merchant customer id": ("customer", lambda v: {"customer": {**CUSTOMER, "merchant_customer_id": f"C{v}1"}}),
    "merchant order id": ("merchant_order_id", lambda v: {"merchant_order_id": f"ORD-{v}-1"}),
    "currency": ("currency", lambda v: {"currency": f"MX{v}"}),
    "locale": ("locale", lambda v: {"locale": f"ES_{v}LATAM"}),
    "success url": ("success_url", lambda v: {"success_url": f"/thanks/{v}"}),
    "cancel url": ("cancel_url", lambda v: {"cancel_url": f"/cart/{v}"}),
}


@pytest.mark.parametrize("char", HOSTILE, ids=["nul", "esc", "del", "c1", "surrogate"])
@pytest.mark.parametrize("place", PLACES)
def test_a_control_character_in_any_text_field_is_refused_before_anything_is_stored(place: str, char: str) -> None:
    group, values = PLACES[place]
    with pytest.raises(ValidationError) as refused:
        make_order(**values(char))
    assert group in refused.value.message_dict
    assert f"U+{ord(char):04X}" in str(refused.value)
    assert not Order.objects.exists()


@pytest.mark.parametrize(
    "place", ["item name", "product id", "first name", "email", "merchant order id", "locale", "success url"]
)
@pytest.mark.parametrize("char", ["\t", "\n", "\r"], ids=["tab", "newline", "carriage-return"])
def test_line_whitespace_inside_a_one_line_field_is_refused(place: str, char: str) -> None:
    group, values = PLACES[place]
    with pytest.raises(ValidationError) as refused:
        make_order(**values(char))
    assert group in refused.value.message_dict


def test_descriptions_may_hold_lines_and_tabs_and_names_any_language() -> None:
    order = make_order(
        items=[{**ITEM, "name": "Café ☕ 👩‍👩‍👧 (ZWJ) ñandú", "description": "Línea 1\n\tLínea 2\r\n"}],
        customer={**CUSTOMER, "first_name": "Zoë", "last_name": "Nguyễn"},
    )
    order.refresh_from_db()
    assert order.items[0]["name"] == "Café ☕ 👩‍👩‍👧 (ZWJ) ñandú"
    assert order.items[0]["description"] == "Línea 1\n\tLínea 2\r\n"
    assert order.customer_last_name == "Nguyễn"


@settings(max_examples=150, deadline=None, suppress_health_check=[HealthCheck.function_scoped_fixture])
@given(name=st.text(min_size=1, max_size=40))
def test_property_any_item_name_is_refused_or_stored_as_given(name: str) -> None:
    """Whatever the text: a ValidationError, or an order that reads back the same (no 500 from the database)."""
    try:
        order = make_order(items=[{**ITEM, "name": name}], merchant_order_id=None)
    except ValidationError:
        return
    assert Order.objects.get(pk=order.pk).items[0]["name"] == name.strip()[:200]


# --------------------------------------------------------------------------------------------------- the pay view

#: What :func:`describe_hostile_cart` puts in the item name, by cart reference.
HOSTILE_NAMES = {"nul": "Taza\x00", "esc": "Taza\x1b[31m", "newline": "Taza\ngrande"}


def describe_hostile_cart(cart: models.Model) -> PaymentDescription:
    """An adapter whose shop data holds a control character (a broken import, a pasted name)."""
    return PaymentDescription(
        items=[{"name": HOSTILE_NAMES[str(cart)], "quantity": 1, "unit_price": Decimal("100")}],
        customer=CUSTOMER,
    )


@pytest.mark.parametrize("reference", HOSTILE_NAMES)
def test_the_pay_view_answers_a_control_character_with_its_400_page(
    client: Any, settings: Any, orkestapay_settings: dict[str, Any], fake_orkestapay: Any, reference: str
) -> None:
    settings.ORKESTAPAY = {**orkestapay_settings, "ADAPTER": f"{__name__}.describe_hostile_cart"}
    cart = Cart.objects.create(reference=reference)

    response = client.post(reverse("orkestapay:pay"), {"object": adapters.sign_shop_object(cart)})

    assert response.status_code == 400
    assert 'data-testid="orkestapay-error"' in response.content.decode()
    assert not Order.objects.exists()
    assert fake_orkestapay.count_requests() == 0


def test_create_order_still_takes_what_it_always_took() -> None:
    order = services.create_order(
        items=[{"name": "  Taza  ", "quantity": "2", "unit_price": "10.50", "description": ""}],
        customer={**CUSTOMER, "merchant_customer_id": 42},  # type: ignore[dict-item]
    )
    assert (order.items[0]["name"], order.merchant_customer_id, order.total_amount) == ("Taza", "42", Decimal("21"))
