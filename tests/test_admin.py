import pytest
from django.contrib.auth import get_user_model
from django.urls import reverse

from django_orkestapay import services
from django_orkestapay.models import Order, OrderStatus
from tests.conftest import make_order

pytestmark = pytest.mark.django_db(transaction=True)


@pytest.fixture
def staff_client(client):
    user = get_user_model().objects.create_superuser("ops", "ops@example.com", "pw")
    client.force_login(user)
    return client


def test_order_changelist_lists_search_and_filter(staff_client):
    make_order(merchant_order_id="FIND-ME", customer={"first_name": "A", "last_name": "B", "email": "a@x.mx"})
    make_order(merchant_order_id="OTHER")
    url = reverse("admin:orkestapay_order_changelist")
    response = staff_client.get(url)
    assert response.status_code == 200
    assert b"FIND-ME" in response.content
    assert b"OTHER" in response.content
    response = staff_client.get(url, {"q": "a@x.mx"})
    assert b"FIND-ME" in response.content
    assert b"OTHER" not in response.content
    response = staff_client.get(url, {"status__exact": "paid"})
    assert b"FIND-ME" not in response.content


def test_changelist_query_count_does_not_grow_with_rows(staff_client):
    url = reverse("admin:orkestapay_order_changelist")
    for index in range(3):
        make_order(merchant_order_id=f"few-{index}")
    staff_client.get(url)
    from django.db import connection
    from django.test.utils import CaptureQueriesContext

    with CaptureQueriesContext(connection) as few:
        staff_client.get(url)
    for index in range(40):
        make_order(merchant_order_id=f"many-{index}")
    with CaptureQueriesContext(connection) as many:
        staff_client.get(url)
    assert len(many.captured_queries) == len(few.captured_queries)


def test_order_change_page_shows_checkouts(staff_client, orkestapay_settings):
    order = make_order()
    checkout = services.start_checkout(order, build_absolute_uri=lambda p: f"https://shop.example{p}")
    response = staff_client.get(reverse("admin:orkestapay_order_change", args=[order.pk]))
    assert response.status_code == 200
    assert (checkout.orkestapay_checkout_id or "").encode() in response.content
    response = staff_client.get(reverse("admin:orkestapay_checkout_changelist"))
    assert (checkout.orkestapay_checkout_id or "").encode() in response.content


def test_refresh_action_syncs_and_reports_counts(staff_client, orkestapay_settings, fake_orkestapay):
    paid = make_order(merchant_order_id="PAID-1")
    checkout = services.start_checkout(paid, build_absolute_uri=lambda p: f"https://shop.example{p}")
    fake_orkestapay.pay(checkout.orkestapay_checkout_id)
    response = staff_client.post(
        reverse("admin:orkestapay_order_changelist"),
        {"action": "refresh_from_orkestapay", "_selected_action": [str(paid.pk)]},
        follow=True,
    )
    assert response.status_code == 200
    assert "1" in response.content.decode()
    assert Order.objects.get(pk=paid.pk).status == OrderStatus.PAID
