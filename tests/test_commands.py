"""The management commands, against the fake gateway."""

from __future__ import annotations

from datetime import timedelta
from io import StringIO

import pytest
from django.core.management import call_command
from django.core.management.base import CommandError
from django.utils import timezone

from django_orkestapay import services
from django_orkestapay.models import Checkout, CheckoutStatus, Order, OrderStatus
from tests.conftest import make_order

pytestmark = pytest.mark.django_db(transaction=True)


def started(merchant_order_id: str) -> tuple[Order, Checkout]:
    order = make_order(merchant_order_id=merchant_order_id)
    checkout = services.start_checkout(order, build_absolute_uri=lambda p: f"https://shop.example{p}")
    return order, checkout


def run(*args: str) -> str:
    out = StringIO()
    call_command(*args, stdout=out)
    return out.getvalue()


def test_sync_pays_an_order_whose_buyer_never_came_back(orkestapay_settings, fake_orkestapay):
    order, checkout = started("LOST-TAB")
    fake_orkestapay.pay(checkout.orkestapay_checkout_id)
    output = run("orkestapay_sync")
    assert "1 changed, 0 failed" in output
    order.refresh_from_db()
    assert order.status == OrderStatus.PAID


def test_sync_dry_run_changes_nothing(orkestapay_settings, fake_orkestapay):
    order, checkout = started("DRY")
    fake_orkestapay.pay(checkout.orkestapay_checkout_id)
    output = run("orkestapay_sync", "--dry-run")
    assert "would sync DRY" in output
    order.refresh_from_db()
    assert order.status == OrderStatus.PENDING
    assert fake_orkestapay.count_requests("GET") == 0


def test_sync_filters_by_order_and_age(orkestapay_settings, fake_orkestapay):
    first, first_checkout = started("ONE")
    second, second_checkout = started("TWO")
    for checkout in (first_checkout, second_checkout):
        fake_orkestapay.pay(checkout.orkestapay_checkout_id)
    run("orkestapay_sync", "--order", "ONE")
    first.refresh_from_db()
    second.refresh_from_db()
    assert (first.status, second.status) == (OrderStatus.PAID, OrderStatus.PENDING)
    assert "0 order(s) would be synced" in run("orkestapay_sync", "--dry-run", "--older-than", "60")
    run("orkestapay_sync", "--order", str(second.pk))
    second.refresh_from_db()
    assert second.status == OrderStatus.PAID


def test_sync_exits_non_zero_when_the_api_fails(orkestapay_settings, fake_orkestapay):
    started("FAILS")
    fake_orkestapay.inject_fault("GET", "/v1/orders/*", "status", status=500)
    with pytest.raises(CommandError, match="1 order"):
        run("orkestapay_sync")


def test_expire_checkouts_marks_idle_orders_expired(orkestapay_settings, fake_orkestapay):
    order, checkout = started("IDLE")
    Checkout.objects.filter(pk=checkout.pk).update(expires_at=timezone.now() - timedelta(minutes=1))
    output = run("orkestapay_expire_checkouts")
    assert "1 order(s) changed" in output
    order.refresh_from_db()
    assert order.status == OrderStatus.EXPIRED
    assert Checkout.objects.get(pk=checkout.pk).status == CheckoutStatus.EXPIRED


def test_expire_checkouts_keeps_a_late_payment(orkestapay_settings, fake_orkestapay):
    order, checkout = started("LATE-PAY")
    fake_orkestapay.pay(checkout.orkestapay_checkout_id)
    Checkout.objects.filter(pk=checkout.pk).update(expires_at=timezone.now() - timedelta(minutes=1))
    run("orkestapay_expire_checkouts")
    order.refresh_from_db()
    assert order.status == OrderStatus.PAID
