"""The order's page: the summary an operator reads first (status, money received, refunded and left to refund, the
customer, how it was paid, the review), the order's payments, refunds and attempts as short tables, and the review
form that refuses a stale page (``services.review_order``) instead of erasing a flag that arrived meanwhile."""

from __future__ import annotations

from dataclasses import dataclass
from decimal import Decimal
from typing import Any

from django import forms
from django.db.models import Model
from django.urls import reverse
from django.utils.text import capfirst
from django.utils.translation import gettext as _

from .. import services
from ..models import UNSETTLED_REFUNDS, Checkout, Order, Payment, PaymentStatus, Refund, RefundStatus
from .display import card_of, money, payment_method, short_datetime

ZERO = Decimal("0.00")


@dataclass
class Cell:
    """One cell of a table on the order's page; ``url`` makes it a link, ``number`` aligns it right."""

    text: str
    url: str = ""
    number: bool = False
    label: str = ""  # its column's header, shown beside it on a phone


@dataclass
class Table:
    """One of the order page's short tables (payments, refunds, checkouts), labelled as the models label them."""

    title: str
    testid: str
    headers: list[tuple[str, bool]]
    rows: list[list[Cell]]
    empty: str

    def __post_init__(self) -> None:
        for row in self.rows:
            for cell, (label, _number) in zip(row, self.headers, strict=True):
                cell.label = label


@dataclass
class OrderSummary:
    """What the order's page shows first, every amount already written in the shop's money format."""

    status: str
    received: str
    refunded: str
    in_progress: str
    left: str
    customer: str
    email: str
    paid_with: str
    needs_review: bool
    review_kind: str
    review_reason: str
    can_refund: bool
    refund_url: str
    tables: list[Table]


def order_summary(order: Order, *, may_refund: bool) -> OrderSummary:
    """The summary of ``order`` (four queries whatever its history): ``may_refund`` is whether the user holds the
    refund permission; the Refund button is offered when it does and something is left to refund."""
    payments = list(order.payments.order_by("created_at"))
    refunds = list(order.refunds.order_by("-created_at"))
    currency = order.currency
    completed = [p for p in payments if p.status == PaymentStatus.COMPLETED and p.currency.upper() in ("", currency)]
    succeeded: dict[Any, Decimal] = {}
    for refund in refunds:
        if refund.status == RefundStatus.SUCCEEDED:
            succeeded[refund.payment_id] = succeeded.get(refund.payment_id, ZERO) + refund.amount
    received = sum((p.amount for p in completed), start=ZERO)
    refunded = sum((max(succeeded.get(p.pk, ZERO), p.refunded_amount) for p in completed), start=ZERO)
    in_progress = sum((r.amount for r in refunds if r.status in UNSETTLED_REFUNDS), start=ZERO)
    left = services.refundable_amount(order)
    paying = next((p for p in reversed(completed) if card_of(p) or p.method_type), None)
    return OrderSummary(
        status=order.get_status_display(),
        received=money(received, currency),
        refunded=money(refunded, currency),
        in_progress=money(in_progress, currency) if in_progress else "",
        left=money(left, currency),
        customer=order.customer_name,
        email=order.customer_email,
        paid_with=payment_method(paying) if paying is not None else "",
        needs_review=order.needs_review,  # as stored: a form shown again with errors holds the operator's values
        review_kind=order.get_review_code_display() if order.review_code else "",
        review_reason=order.review_reason,
        can_refund=may_refund and left > 0,
        refund_url=reverse("admin:orkestapay_order_refund", args=[order.pk]),
        tables=[
            _payments_table(payments),
            _refunds_table(refunds, currency),
            _checkouts_table(list(order.checkouts.order_by("-created_at"))),
        ],
    )


def _label(model: type[Model], name: str) -> tuple[str, bool]:
    field = model._meta.get_field(name)
    label = getattr(field, "verbose_name", name)
    return capfirst(str(label)), name in ("amount", "refunded_amount")


def _payments_table(payments: list[Payment]) -> Table:
    names = ("orkestapay_payment_id", "status", "amount", "refunded_amount", "method_type", "created_at")
    return Table(
        title=capfirst(str(Payment._meta.verbose_name_plural)),
        testid="orkestapay-payments",
        headers=[_label(Payment, name) for name in names],
        rows=[
            [
                Cell(p.orkestapay_payment_id, url=reverse("admin:orkestapay_payment_change", args=[p.pk])),
                Cell(p.get_status_display()),
                Cell(money(p.amount, p.currency), number=True),
                Cell(money(p.refunded_amount, p.currency), number=True),
                Cell(payment_method(p)),
                Cell(short_datetime(p.created_at)),
            ]
            for p in payments
        ],
        empty=_("No payment yet."),
    )


def _refunds_table(refunds: list[Refund], currency: str) -> Table:
    names = ("amount", "status", "origin", "requested_by", "created_at")
    return Table(
        title=capfirst(str(Refund._meta.verbose_name_plural)),
        testid="orkestapay-refunds",
        headers=[_label(Refund, name) for name in names],
        rows=[
            [
                Cell(
                    money(r.amount, currency), url=reverse("admin:orkestapay_refund_change", args=[r.pk]), number=True
                ),
                Cell(r.get_status_display()),
                Cell(r.get_origin_display()),
                Cell(r.requested_by or "-"),
                Cell(short_datetime(r.created_at)),
            ]
            for r in refunds
        ],
        empty=_("No refund yet."),
    )


def _checkouts_table(checkouts: list[Checkout]) -> Table:
    names = ("orkestapay_checkout_id", "status", "expires_at", "created_at")
    return Table(
        title=capfirst(str(Checkout._meta.verbose_name_plural)),
        testid="orkestapay-checkouts",
        headers=[_label(Checkout, name) for name in names],
        rows=[
            [
                Cell(str(c), url=reverse("admin:orkestapay_checkout_change", args=[c.pk])),
                Cell(c.get_status_display()),
                Cell(short_datetime(c.expires_at)),
                Cell(short_datetime(c.created_at)),
            ]
            for c in checkouts
        ],
        empty=_("No checkout yet."),
    )


class OrderReviewForm(forms.ModelForm):  # type: ignore[type-arg]
    """The order page's form: the review flag and reason, and the review the page showed (``review_shown``).

    A page shown before the review changed (a payment flagged the order again, another operator saved) is refused
    when it would change the review: the form comes back with the order's current flag and reason in it.
    """

    review_shown = forms.CharField(widget=forms.HiddenInput, required=False)

    class Meta:
        model = Order
        fields = ("needs_review", "review_reason")

    def __init__(self, *args: Any, **kwargs: Any) -> None:
        super().__init__(*args, **kwargs)
        if self.instance.pk is not None and "review_shown" in self.fields:
            self.fields["review_shown"].initial = services.review_fingerprint(self.instance)

    def clean(self) -> dict[str, Any]:
        cleaned = super().clean() or {}
        if self.instance.pk is None or "review_shown" not in self.fields:
            return cleaned
        current = services.review_fingerprint(self.instance)  # the order as read for this request
        if cleaned.get("review_shown") == current or not self.changes_review(cleaned):
            return cleaned
        self.show_current_review(current)
        raise forms.ValidationError(
            _(
                "The review of this order changed while this page was open (a payment or another person flagged "
                "it). Nothing was saved. The form now shows the current flag and reason: read them, then save again."
            ),
            code="review_changed",
        )

    def changes_review(self, cleaned: dict[str, Any]) -> bool:
        """Whether the submitted flag or reason differ from the order's current ones."""
        current = (self.instance.needs_review, services.normalize_review_reason(self.instance.review_reason))
        reason = services.normalize_review_reason(str(cleaned.get("review_reason", self.instance.review_reason)))
        return (bool(cleaned.get("needs_review", self.instance.needs_review)), reason) != current

    def show_current_review(self, fingerprint: str) -> None:
        """Put the order's current review (and its fingerprint) in the form shown again."""
        data = self.data.copy()  # type: ignore[attr-defined]  # a QueryDict: the form is bound
        data[self.add_prefix("review_shown")] = fingerprint
        data[self.add_prefix("review_reason")] = self.instance.review_reason
        flag = self.add_prefix("needs_review")
        if self.instance.needs_review:
            data[flag] = "on"
        else:
            data.pop(flag, None)
        self.data = data
