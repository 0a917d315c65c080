"""The order page's review flag and reason: an operator's save never erases a flag (or a reason) that arrived while
the page was open; the form is refused with the order's current review shown instead."""

from __future__ import annotations

from html.parser import HTMLParser

import pytest
from django.contrib.admin.models import LogEntry
from django.contrib.auth import get_user_model
from django.urls import reverse
from django.utils import translation

from django_orkestapay import services
from django_orkestapay.exceptions import ReviewChangedError
from django_orkestapay.models import Order, ReviewCode
from tests.conftest import make_order
from tests.test_admin import messages_of

pytestmark = pytest.mark.django_db(transaction=True)


class FormFields(HTMLParser):
    """The values a browser would submit from the page's change form (``#order_form``), as shown."""

    def __init__(self) -> None:
        super().__init__()
        self.fields: dict[str, str] = {}
        self.in_form = False
        self.textarea: str | None = None

    def handle_starttag(self, tag: str, attrs: list[tuple[str, str | None]]) -> None:
        found = dict(attrs)
        if tag == "form":
            self.in_form = found.get("id") == "order_form"
        if not self.in_form or not found.get("name"):
            return
        name = str(found["name"])
        if tag == "textarea":
            self.textarea = name
            self.fields[name] = ""
        elif tag == "input" and found.get("type") not in ("submit", "checkbox"):
            self.fields[name] = found.get("value") or ""
        elif tag == "input" and "checked" in found:
            self.fields[name] = found.get("value") or "on"

    def handle_data(self, data: str) -> None:
        if self.textarea is not None:
            self.fields[self.textarea] += data

    def handle_endtag(self, tag: str) -> None:
        if tag == "textarea":
            self.textarea = None
        elif tag == "form":
            self.in_form = False


def form_as_shown(page: str) -> dict[str, str]:
    parser = FormFields()
    parser.feed(page)
    fields = parser.fields
    if "review_reason" in fields:
        fields["review_reason"] = fields["review_reason"].removeprefix("\n")  # the newline after <textarea>
    return fields


@pytest.fixture
def operator(client):
    user = get_user_model().objects.create_superuser("ops", "ops@example.com", "pw")
    client.force_login(user)
    client.defaults["HTTP_ACCEPT_LANGUAGE"] = "en"
    yield client
    translation.deactivate()


def flag(order: Order, code: str, reason: str) -> Order:
    """What the service layer does when a payment flags an order (a second payment, an amount that differs)."""
    order = Order.objects.get(pk=order.pk)
    assert services.flag_review(order, code, reason)
    order.save(update_fields=["needs_review", "review_code", "review_reason", "updated_at"])
    return order


def test_a_stale_page_does_not_clear_a_newer_flag(operator):
    order = flag(make_order(merchant_order_id="STALE-1"), ReviewCode.AMOUNT_MISMATCH, "paid 980.00, asked 990.00")
    url = reverse("admin:orkestapay_order_change", args=[order.pk])
    shown = form_as_shown(operator.get(url).content.decode())
    assert shown["review_reason"] == "paid 980.00, asked 990.00"
    assert shown.get("needs_review") == "on"

    flag(order, ReviewCode.PAID_TWICE, "a second payment pay_2 of 990.00 arrived")  # while the page is open

    shown.pop("needs_review")  # the operator unticks "needs review" and saves
    response = operator.post(url, shown)
    order.refresh_from_db()
    assert order.needs_review is True
    assert order.review_code == ReviewCode.PAID_TWICE
    assert order.review_reason.splitlines() == ["paid 980.00, asked 990.00", "a second payment pay_2 of 990.00 arrived"]
    assert response.status_code == 200  # the form again, not "changed successfully"
    page = response.content.decode()
    assert "changed while this page was open" in page
    note = page[page.index('data-testid="orkestapay-review-note"') : page.index("</p>", page.index("review-note"))]
    assert "Paid more than once" in note  # the summary says what is stored, not what the stale form posted
    assert "a second payment pay_2 of 990.00 arrived" in note
    again = form_as_shown(page)  # it now shows the current review, to be checked and saved again
    assert again["review_reason"] == order.review_reason
    assert again.get("needs_review") == "on"

    again.pop("needs_review")  # saved from the current page, the flag is cleared
    done = operator.post(url, again, follow=True)
    assert any("was changed successfully" in text for text in messages_of(done))
    order.refresh_from_db()
    assert (order.needs_review, order.review_reason) == (False, again["review_reason"])


def test_a_page_shown_before_an_unrelated_change_still_saves(operator):
    order = flag(make_order(merchant_order_id="STALE-2"), ReviewCode.PARTIALLY_PAID, "paid 500.00 of 990.00")
    url = reverse("admin:orkestapay_order_change", args=[order.pk])
    shown = form_as_shown(operator.get(url).content.decode())
    Order.objects.filter(pk=order.pk).update(last_error="2026-01-01 00:00:00 confirming status: timeout")
    shown.pop("needs_review")
    shown["review_reason"] = "paid 500.00 of 990.00\nthe buyer paid the rest by transfer (ops)"
    response = operator.post(url, shown)
    assert response.status_code == 302
    order.refresh_from_db()
    assert order.needs_review is False
    assert order.review_reason.endswith("(ops)")
    assert order.last_error.endswith("timeout")  # not written back from the form


def test_a_stale_page_that_changes_nothing_is_not_refused(operator):
    order = flag(make_order(merchant_order_id="STALE-3"), ReviewCode.PAID_TWICE, "first")
    url = reverse("admin:orkestapay_order_change", args=[order.pk])
    shown = form_as_shown(operator.get(url).content.decode())
    flag(order, ReviewCode.PAID_TWICE, "second")
    shown["review_reason"] = "first\nsecond"  # what the order now says: nothing of it is lost
    response = operator.post(url, shown)
    assert response.status_code == 302
    order.refresh_from_db()
    assert (order.needs_review, order.review_reason) == (True, "first\nsecond")


def test_the_service_refuses_a_review_based_on_an_older_state():
    order = flag(make_order(merchant_order_id="STALE-4"), ReviewCode.AMOUNT_MISMATCH, "first")
    shown = services.review_fingerprint(order)
    flag(order, ReviewCode.PAID_TWICE, "second")
    with pytest.raises(ReviewChangedError):
        services.review_order(order, needs_review=False, review_reason="first", shown=shown)
    order.refresh_from_db()
    assert (order.needs_review, order.review_reason) == (True, "first\nsecond")
    current = services.review_fingerprint(order)
    reviewed = services.review_order(order, needs_review=False, review_reason="first\nsecond\nchecked", shown=current)
    assert (reviewed.needs_review, reviewed.review_code) == (False, ReviewCode.PAID_TWICE)
    order.refresh_from_db()
    assert (order.needs_review, order.review_reason) == (False, "first\nsecond\nchecked")


def test_a_flag_that_lands_between_the_check_and_the_save_is_not_erased(operator, monkeypatch):
    """The form's check passed, then a payment flagged the order before the save took the lock: the save refuses."""
    order = flag(make_order(merchant_order_id="STALE-5"), ReviewCode.AMOUNT_MISMATCH, "first")
    url = reverse("admin:orkestapay_order_change", args=[order.pk])
    shown = form_as_shown(operator.get(url).content.decode())
    review = services.review_order

    def flagged_just_before(target: Order, **kwargs: object) -> Order:
        flag(target, ReviewCode.PAID_TWICE, "second")
        return review(target, **kwargs)  # type: ignore[arg-type]

    monkeypatch.setattr(services, "review_order", flagged_just_before)
    shown.pop("needs_review")
    response = operator.post(url, shown, follow=True)
    order.refresh_from_db()
    assert (order.needs_review, order.review_reason) == (True, "first\nsecond")
    texts = messages_of(response)
    refused = "The review of order STALE-5 changed while this page was open; nothing was saved."
    assert texts == [f"{refused} Read the order's review again."]
    assert response.redirect_chain == [(url, 302)]
    assert not LogEntry.objects.filter(object_id=str(order.pk)).exists()  # no "changed" entry in its history
