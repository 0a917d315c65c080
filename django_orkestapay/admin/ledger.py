"""The payment ledger's admin: payments (refundable one by one, a partial amount allowed) and refunds (resent, or
read back from OrkestaPay, while their outcome is unknown). Both are records: nothing is added, edited or deleted
here. Their lists show the order's reference, status, amount in the shop's money format, method and date; ids,
raw answers and the rest are on each record's page."""

from __future__ import annotations

from decimal import Decimal

from django.contrib import admin
from django.db.models import QuerySet
from django.http import HttpRequest
from django.template.response import TemplateResponse
from django.utils.html import format_html
from django.utils.safestring import SafeString
from django.utils.translation import gettext as _
from django.utils.translation import gettext_lazy

from .. import services
from ..models import UNSETTLED_REFUNDS, Payment, Refund, RefundOrigin
from .common import (
    LabelledValuesFilter,
    OrderColumn,
    RecordAdmin,
    confirm_or_run,
    date_column,
    money_column,
    pretty_json,
)
from .display import method_name, money, payment_method, warning
from .orders import has_refund_permission
from .refunding import refund_action


class MethodFilter(LabelledValuesFilter):
    title = gettext_lazy("method")
    field_name = "method_type"

    def label(self, value: str) -> str:
        return method_name(value)


@admin.register(Payment)
class PaymentAdmin(OrderColumn, RecordAdmin):
    list_display = ("order_reference", "status", "amount_display", "method_display", "created")
    list_filter = ("status", "origin", MethodFilter, "currency", "created_at")
    list_select_related = ("order",)
    search_fields = ("orkestapay_payment_id", "orkestapay_order_id", "order__merchant_order_id")
    hidden_fields = ("raw",)
    readonly_fields = ("amount_display", "refunded_display", "method_display", "raw_display")
    actions = ("refund",)

    @admin.display(description=gettext_lazy("amount"), ordering="amount")
    def amount_display(self, obj: Payment) -> SafeString | str:
        """The amount, and beneath it what was refunded of it, if anything."""
        if not obj.refunded_amount:
            return money(obj.amount, obj.currency)
        refunded = _("%(amount)s refunded") % {"amount": money(obj.refunded_amount, obj.currency)}
        return format_html('{}<br><span class="orkestapay-quiet">{}</span>', money(obj.amount, obj.currency), refunded)

    refunded_display = money_column("refunded_amount", gettext_lazy("refunded (OrkestaPay)"))

    @admin.display(description=gettext_lazy("method"), ordering="method_type")
    def method_display(self, obj: Payment) -> str:
        return payment_method(obj)

    created = date_column("created_at", gettext_lazy("created"))

    @admin.display(description=gettext_lazy("OrkestaPay's last answer"))
    def raw_display(self, obj: Payment) -> SafeString:
        return pretty_json(obj.raw)

    def has_refund_permission(self, request: HttpRequest) -> bool:
        return has_refund_permission(request)

    @admin.action(description=gettext_lazy("Refund"), permissions=["refund"])
    def refund(self, request: HttpRequest, queryset: QuerySet[Payment]) -> TemplateResponse | None:
        payments = list(queryset.select_related("order"))  # one not completed has nothing left: it is left out
        return refund_action(self, request, payments, left_of=services.refundable_amount_of, refund_one=_refund)


def _refund(payment: Payment, amount: Decimal | None, intent: services.RefundIntent, requested_by: str) -> Refund:
    return services.refund_payment(payment, amount=amount, requested_by=requested_by, intent=intent)


@admin.register(Refund)
class RefundAdmin(OrderColumn, RecordAdmin):
    list_display = ("amount_display", "order_reference", "status", "origin", "review_display", "created")
    list_filter = ("status", "needs_review", "origin", "created_at")
    list_select_related = ("order",)
    search_fields = ("transaction_id", "orkestapay_payment_id", "order__merchant_order_id", "idempotency_key")
    hidden_fields = ("raw_response",)
    readonly_fields = ("amount_display", "raw_response_display")
    actions = ("retry", "mark_succeeded", "mark_failed")

    amount_display = money_column(
        "amount", gettext_lazy("amount"), ordering="amount", currency=lambda refund: refund.order.currency
    )

    @admin.display(description=gettext_lazy("needs review"), ordering="-needs_review")
    def review_display(self, obj: Refund) -> SafeString | str:
        return warning(_("Check in the portal")) if obj.needs_review else ""

    created = date_column("created_at", gettext_lazy("created"))

    @admin.display(description=gettext_lazy("raw response"))
    def raw_response_display(self, obj: Refund) -> SafeString:
        return pretty_json(obj.raw_response)

    @admin.action(description=gettext_lazy("Resend refund (same idempotency key)"), permissions=["change"])
    def retry(self, request: HttpRequest, queryset: QuerySet[Refund]) -> TemplateResponse | None:
        return confirm_or_run(
            self,
            request,
            queryset.filter(origin=RefundOrigin.SHOP, status__in=UNSETTLED_REFUNDS),
            title=_("Resend refund"),
            question=_(
                "Settle these refunds whose outcome is unknown? Each is read back from OrkestaPay first; a requested "
                "one is sent again only when that cannot refund twice (see TRUST_IDEMPOTENCY_KEYS); otherwise it is "
                "left for you to check in OrkestaPay's portal."
            ),
            run=services.retry_refunds,
            recorded=_("Each failure is recorded on its refund's error."),
        )

    @admin.action(
        description=gettext_lazy("Mark refund failed (checked in OrkestaPay's portal)"), permissions=["change"]
    )
    def mark_failed(self, request: HttpRequest, queryset: QuerySet[Refund]) -> TemplateResponse | None:
        return confirm_or_run(
            self,
            request,
            queryset.filter(needs_review=True, status__in=UNSETTLED_REFUNDS),
            title=_("Mark refund failed"),
            question=_(
                "Mark these refunds failed? Do this only after checking in OrkestaPay's portal that the money did not "
                "leave: their amounts become refundable again."
            ),
            run=lambda refunds: services.mark_refunds_failed(refunds, marked_by=request.user.get_username()),
        )

    @admin.action(
        description=gettext_lazy("Mark refund succeeded (checked in OrkestaPay's portal)"), permissions=["change"]
    )
    def mark_succeeded(self, request: HttpRequest, queryset: QuerySet[Refund]) -> TemplateResponse | None:
        return confirm_or_run(
            self,
            request,
            queryset.filter(needs_review=True, status__in=UNSETTLED_REFUNDS),
            title=_("Mark refund succeeded"),
            question=_(
                "Mark these refunds succeeded? Do this only after checking in OrkestaPay's portal that the money left: "
                "their orders count them as refunded, and the shop is told (order_refunded)."
            ),
            run=lambda refunds: services.mark_refunds_succeeded(refunds, marked_by=request.user.get_username()),
        )
