"""The admin keeps money records as they are: no add or delete, a paid order's amounts read-only, payments and
refunds inline; actions only for those allowed (refresh and reprocess: change; refund: orkestapay.refund_order);
amounts typed in the operator's language."""

from __future__ import annotations

import html
import re
from decimal import Decimal

import pytest
from django.contrib.auth import get_user_model
from django.contrib.auth.models import Permission
from django.urls import reverse
from django.utils import translation

from django_orkestapay import services
from django_orkestapay.models import Event, EventStatus, Order, OrderStatus, Payment, Refund, ReviewCode
from tests.conftest import make_order, make_paid_order
from tests.test_admin import confirmation_intent, messages_of, run_action

pytestmark = pytest.mark.django_db(transaction=True)

ORDERS = reverse("admin:orkestapay_order_changelist")
MODELS = ("order", "checkout", "payment", "refund")


@pytest.fixture(autouse=True)
def _language_reset():
    yield
    translation.deactivate()  # the locale middleware leaves the request's language active on this thread


def staff(client, *codenames: str, superuser: bool = False):
    """A logged-in staff member with exactly these permissions (``app_label.codename``)."""
    users = get_user_model().objects
    if superuser:
        user = users.create_superuser("root", "root@example.com", "pw")
    else:
        user = users.create_user("ops", "ops@example.com", "pw", is_staff=True)
        for name in codenames:
            app_label, codename = name.split(".")
            user.user_permissions.add(Permission.objects.get(content_type__app_label=app_label, codename=codename))
    client.force_login(user)
    client.defaults["HTTP_ACCEPT_LANGUAGE"] = "en"
    return client


def action_names(client, model: str) -> list[str]:
    response = client.get(reverse(f"admin:orkestapay_{model}_changelist"))
    assert response.status_code == 200
    form = response.context["action_form"]
    return [] if form is None else [name for name, _label in form.fields["action"].choices if name]


@pytest.fixture
def paid(orkestapay_settings, fake_orkestapay) -> Order:
    order = make_paid_order(fake_orkestapay)
    services.refund_order(order, amount=Decimal("10"))  # a payment row and a refund row to show
    return Order.objects.get(pk=order.pk)


def test_records_cannot_be_added_or_deleted(client, paid):
    staff(client, superuser=True)
    objects = {
        "order": paid,
        "checkout": paid.checkouts.get(),
        "payment": Payment.objects.get(order=paid),
        "refund": Refund.objects.get(order=paid),
    }
    for model, obj in objects.items():
        assert client.get(reverse(f"admin:orkestapay_{model}_add")).status_code == 403
        delete = reverse(f"admin:orkestapay_{model}_delete", args=[obj.pk])
        assert client.post(delete, {"post": "yes"}).status_code == 403
        assert "delete_selected" not in action_names(client, model)
        assert client.get(reverse(f"admin:orkestapay_{model}_change", args=[obj.pk])).status_code == 200
    assert (Order.objects.count(), Payment.objects.count(), Refund.objects.count()) == (1, 1, 1)


def test_webhook_events_cannot_be_added_or_deleted_either(client):
    """As docs/admin.rst says: events are records of what OrkestaPay sent, kept like the money records."""
    staff(client, superuser=True)
    event = Event.objects.create(message_id="msg_kept", event_type="payment.purchase", status=EventStatus.FAILED)
    assert client.get(reverse("admin:orkestapay_event_add")).status_code == 403
    assert client.post(reverse("admin:orkestapay_event_delete", args=[event.pk]), {"post": "yes"}).status_code == 403
    assert "delete_selected" not in action_names(client, "event")
    assert client.get(reverse("admin:orkestapay_event_change", args=[event.pk])).status_code == 200
    assert Event.objects.filter(pk=event.pk).exists()


def test_a_post_to_a_paid_orders_form_changes_no_money(client, paid):
    staff(client, superuser=True)
    url = reverse("admin:orkestapay_order_change", args=[paid.pk])
    page = client.get(url).content.decode()
    for field in ("total_amount", "subtotal_amount", "currency", "customer_email", "items", "status"):
        assert f'name="{field}"' not in page
    assert 'name="needs_review"' in page
    shown = re.search(r'name="review_shown" value="([0-9a-f]+)"', page)
    assert shown is not None
    forged = {
        "review_shown": shown.group(1),
        "total_amount": "1.00",
        "subtotal_amount": "1.00",
        "currency": "USD",
        "customer_email": "thief@example.com",
        "items": "[]",
        "status": "created",
        "needs_review": "on",
        "review_reason": "checked by ops",
    }
    inlines = {
        f"{prefix}-{key}": "0"
        for prefix in ("checkouts", "payments", "refunds")
        for key in ("TOTAL_FORMS", "INITIAL_FORMS")
    }
    response = client.post(url, {**forged, **inlines})
    assert response.status_code == 302, response.content.decode()[:2000]
    order = Order.objects.get(pk=paid.pk)
    assert (order.total_amount, order.subtotal_amount, order.currency) == (Decimal("990.00"), Decimal("1000.00"), "MXN")
    assert (order.customer_email, order.status) == ("john@example.com", OrderStatus.PARTIALLY_REFUNDED)
    assert [item["name"] for item in order.items] == ["Pantalla TCL 40"]
    assert (order.needs_review, order.review_reason) == (True, "checked by ops")  # what an operator may change


def test_the_order_page_shows_payments_and_refunds_and_filters_by_review(client, paid):
    staff(client, superuser=True)
    page = client.get(reverse("admin:orkestapay_order_change", args=[paid.pk])).content.decode()
    assert paid.orkestapay_payment_id in page  # the payment inline
    assert "10.00" in page  # the refund inline
    other = make_order(merchant_order_id="REVIEW-ME")
    Order.objects.filter(pk=other.pk).update(needs_review=True, review_code=ReviewCode.PAID_TWICE)
    flagged = client.get(ORDERS, {"review_code__exact": ReviewCode.PAID_TWICE})
    assert [o.merchant_order_id for o in flagged.context["cl"].result_list] == ["REVIEW-ME"]
    assert "Paid more than once" in flagged.content.decode()


def test_view_only_staff_see_no_actions_and_cannot_post_one(client, paid, fake_orkestapay):
    staff(client, *(f"orkestapay.view_{model}" for model in (*MODELS, "event")))
    for model in (*MODELS, "event"):
        assert action_names(client, model) == []
    before = fake_orkestapay.count_requests()
    for action in ("refund", "refresh_from_orkestapay"):
        data = {"action": action, "_selected_action": [str(paid.pk)], "index": "0", "confirm": "yes"}
        response = client.post(ORDERS, data, follow=True)
        assert response.status_code == 200
        assert b'data-testid="orkestapay-confirm"' not in response.content
    assert fake_orkestapay.count_requests() == before
    assert Refund.objects.count() == 1


def test_change_permission_allows_refresh_resend_and_reprocess_but_not_refunds(client, paid):
    staff(client, *(f"orkestapay.{verb}_{model}" for verb in ("view", "change") for model in (*MODELS, "event")))
    assert action_names(client, "order") == ["refresh_from_orkestapay"]
    assert action_names(client, "payment") == []
    assert action_names(client, "refund") == ["retry", "mark_succeeded", "mark_failed"]
    assert action_names(client, "event") == ["reprocess"]


def test_the_refund_permission_allows_refunds(client, paid, fake_orkestapay):
    staff(client, "orkestapay.view_order", "orkestapay.view_payment", "orkestapay.refund_order")
    assert action_names(client, "order") == ["refund"]
    assert action_names(client, "payment") == ["refund"]
    response = run_action(client, ORDERS, "refund", [paid.pk], amount="20")
    assert messages_of(response) == [f"Order {paid.merchant_order_id}: refunded $20.00 MXN."]
    assert services.refundable_amount(paid) == Decimal("960.00")


def test_amounts_are_read_in_spanish(client, paid):
    staff(client, superuser=True)
    client.defaults["HTTP_ACCEPT_LANGUAGE"] = "es-MX"
    first = client.post(ORDERS, {"action": "refund", "_selected_action": [str(paid.pk)]})
    assert 'value="980,00"' in first.content.decode()  # what is left, written the Spanish way
    form = {"action": "refund", "_selected_action": [str(paid.pk)], **confirmation_intent(first), "confirm": "yes"}
    refused = client.post(ORDERS, {**form, "amount": "1,000"})
    assert 'Escribe un monto como 1.000,00 ("1,000" no lo es).' in html.unescape(refused.content.decode())
    assert Refund.objects.count() == 1
    thousand = client.post(ORDERS, {**form, "amount": "1.000,00"})  # read as 1000: too much, said beside the field
    expected = "$1\xa0000,00 MXN es más de lo que queda por reembolsar: como máximo $980,00 MXN."  # es writes 1 000,00
    page = html.unescape(thousand.content.decode())
    assert expected in page
    assert Refund.objects.count() == 1
    done = client.post(ORDERS, {**form, "amount": "100,00"}, follow=True)
    assert messages_of(done) == [f"Orden {paid.merchant_order_id}: se reembolsaron $100,00 MXN."]
    assert Refund.objects.filter(amount=Decimal("100.00")).count() == 1


def test_a_payment_that_did_not_complete_is_left_out(client, paid, fake_orkestapay):
    staff(client, superuser=True)
    completed = Payment.objects.get(order=paid)
    declined = Payment.objects.create(order=paid, orkestapay_payment_id="pay_declined", status="failed", amount=990)
    url = reverse("admin:orkestapay_payment_changelist")
    response = run_action(client, url, "refund", [completed.pk, declined.pk], amount="5")
    texts = messages_of(response)
    assert "1 selected row has nothing to refund and was left out." in texts
    payment, order = completed.orkestapay_payment_id, paid.merchant_order_id
    assert texts[-1] == f"Payment {payment} of order {order}: refunded $5.00 MXN."
    assert list(Refund.objects.filter(amount=5).values_list("payment", flat=True)) == [completed.pk]
