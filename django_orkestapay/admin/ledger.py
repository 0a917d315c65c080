"""The payment ledger's admin: payments (refundable one by one, a partial amount allowed) and refunds (resent, or
read back from OrkestaPay, while their outcome is unknown). Both are records: nothing is added, edited or deleted
here."""

from __future__ import annotations

from decimal import Decimal

from django.contrib import admin
from django.db.models import QuerySet
from django.http import HttpRequest
from django.template.response import TemplateResponse
from django.utils.safestring import SafeString
from django.utils.translation import gettext as _
from django.utils.translation import gettext_lazy

from .. import services
from ..models import Payment, Refund, RefundOrigin, RefundStatus
from .common import RecordAdmin, confirm_or_run, pretty_json
from .orders import has_refund_permission
from .refunding import refund_action


@admin.register(Payment)
class PaymentAdmin(RecordAdmin):
    list_display = (
        "orkestapay_payment_id",
        "order",
        "status",
        "amount",
        "refunded_amount",
        "currency",
        "method_type",
        "origin",
        "created_at",
    )
    list_filter = ("status", "origin", "method_type", "currency", "created_at")
    list_select_related = ("order",)
    search_fields = ("orkestapay_payment_id", "orkestapay_order_id", "order__merchant_order_id")
    hidden_fields = ("raw",)
    readonly_fields = ("raw_display",)
    actions = ("refund",)

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
class RefundAdmin(RecordAdmin):
    list_display = (
        "__str__",
        "order",
        "orkestapay_payment_id",
        "amount",
        "status",
        "origin",
        "transaction_id",
        "requested_by",
        "attempts",
        "needs_review",
        "created_at",
    )
    list_filter = ("status", "needs_review", "origin", "created_at")
    list_select_related = ("order",)
    search_fields = ("transaction_id", "orkestapay_payment_id", "order__merchant_order_id", "idempotency_key")
    hidden_fields = ("raw_response",)
    readonly_fields = ("raw_response_display",)
    actions = ("retry", "mark_failed")

    @admin.display(description=gettext_lazy("raw response"))
    def raw_response_display(self, obj: Refund) -> SafeString:
        return pretty_json(obj.raw_response)

    @admin.action(description=gettext_lazy("Resend refund (same idempotency key)"), permissions=["change"])
    def retry(self, request: HttpRequest, queryset: QuerySet[Refund]) -> TemplateResponse | None:
        return confirm_or_run(
            self,
            request,
            queryset.filter(origin=RefundOrigin.SHOP, status__in=[RefundStatus.REQUESTED, RefundStatus.PENDING]),
            title=_("Resend refund"),
            question=_(
                "Settle these refunds whose outcome is unknown? A requested one is sent again with its original "
                "idempotency key, so OrkestaPay cannot refund twice; a pending one is read back from OrkestaPay."
            ),
            run=services.retry_refunds,
        )

    @admin.action(
        description=gettext_lazy("Mark refund failed (checked in OrkestaPay's portal)"), permissions=["change"]
    )
    def mark_failed(self, request: HttpRequest, queryset: QuerySet[Refund]) -> TemplateResponse | None:
        return confirm_or_run(
            self,
            request,
            queryset.filter(needs_review=True, status__in=[RefundStatus.REQUESTED, RefundStatus.PENDING]),
            title=_("Mark refund failed"),
            question=_(
                "Mark these refunds failed? Do this only after checking in OrkestaPay's portal that the money did not "
                "leave: their amounts become refundable again."
            ),
            run=lambda refunds: services.mark_refunds_failed(refunds, marked_by=request.user.get_username()),
        )
