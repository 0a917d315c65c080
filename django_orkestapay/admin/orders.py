"""The order admin (with its checkouts, payments and refunds inline) and the checkout admin.

An order's amounts, items, currency and customer are read-only here (and frozen in the model once offered); only
its review flag and reason stay editable, for the operator who reviewed it. Actions: refresh from OrkestaPay (needs
the change permission) and refund (needs ``orkestapay.refund_order``).
"""

from __future__ import annotations

from decimal import Decimal

from django.contrib import admin
from django.db.models import QuerySet
from django.http import HttpRequest
from django.template.response import TemplateResponse
from django.urls import reverse
from django.utils.html import format_html
from django.utils.safestring import SafeString
from django.utils.text import capfirst
from django.utils.translation import gettext as _
from django.utils.translation import gettext_lazy

from .. import services
from ..models import Checkout, Order, Payment, Refund
from .common import ReadOnlyInline, RecordAdmin, confirm_or_run, pretty_json
from .links import create_payment_links, has_add_payment_link_permission
from .refunding import refund_action


class CheckoutInline(ReadOnlyInline):
    model = Checkout
    fields = ("orkestapay_checkout_id", "status", "merchant_reference", "expires_at", "created_at", "error")
    readonly_fields = fields


class PaymentInline(ReadOnlyInline):
    model = Payment
    fields = ("orkestapay_payment_id", "status", "amount", "refunded_amount", "currency", "method_type", "created_at")
    readonly_fields = fields


class RefundInline(ReadOnlyInline):
    model = Refund
    fields = ("amount", "status", "origin", "orkestapay_payment_id", "transaction_id", "requested_by", "created_at")
    readonly_fields = fields


def has_refund_permission(request: HttpRequest) -> bool:
    """Whether the user may refund through OrkestaPay (``orkestapay.refund_order``)."""
    return bool(request.user.has_perm("orkestapay.refund_order"))


@admin.register(Order)
class OrderAdmin(RecordAdmin):
    list_display = (
        "merchant_order_id",
        "customer_email",
        "total_display",
        "status",
        "needs_review",
        "review_code",
        "orkestapay_order_id",
        "orkestapay_payment_id",
        "environment",
        "created_at",
    )
    list_filter = ("status", "needs_review", "review_code", "currency", "environment", "created_at")
    show_full_result_count = False  # no COUNT(*) over the whole table on every filtered page
    search_fields = ("merchant_order_id", "orkestapay_order_id", "orkestapay_payment_id", "customer_email")
    date_hierarchy = "created_at"
    editable_fields = ("needs_review", "review_reason")
    hidden_fields = ("items", "content_type", "object_id")
    readonly_fields = ("items_display", "shop_object_display", "related_records")
    inlines = (CheckoutInline, PaymentInline, RefundInline)
    actions = ("refresh_from_orkestapay", "refund", create_payment_links)
    has_add_payment_link_permission = has_add_payment_link_permission

    @admin.display(description=gettext_lazy("total"), ordering="total_amount")
    def total_display(self, obj: Order) -> str:
        return f"{obj.total_amount} {obj.currency}"

    @admin.display(description=gettext_lazy("line items"))
    def items_display(self, obj: Order) -> SafeString:
        return pretty_json(obj.items)

    @admin.display(description=gettext_lazy("shop object"))
    def shop_object_display(self, obj: Order) -> str:
        """The shop's object the order pays for (a cart, a booking), linked to its admin page when it has one."""
        target = obj.shop_object
        if target is None:
            return "-"
        text = f"{capfirst(target._meta.verbose_name)}: {target}"
        if not self.admin_site.is_registered(type(target)):
            return text
        url = reverse(f"admin:{target._meta.app_label}_{target._meta.model_name}_change", args=[target.pk])
        return format_html('<a href="{}">{}</a>', url, text)

    @admin.display(description=gettext_lazy("related records"))
    def related_records(self, obj: Order) -> SafeString:
        links = [
            (reverse(f"admin:orkestapay_{model}_changelist") + f"?order__id__exact={obj.pk}", label)
            for model, label in (
                ("checkout", _("Checkouts")),
                ("payment", _("Payments")),
                ("event", _("Webhook events")),
                ("refund", _("Refunds")),
                ("paymentlink", _("Payment links")),
            )
        ]
        return format_html(" · ".join(['<a href="{}">{}</a>'] * len(links)), *[part for link in links for part in link])

    def has_refund_permission(self, request: HttpRequest) -> bool:
        return has_refund_permission(request)

    @admin.action(description=gettext_lazy("Refresh status from OrkestaPay"), permissions=["change"])
    def refresh_from_orkestapay(self, request: HttpRequest, queryset: QuerySet[Order]) -> TemplateResponse | None:
        return confirm_or_run(
            self,
            request,
            queryset,
            title=_("Refresh status from OrkestaPay"),
            question=_("Ask OrkestaPay for the current status of these orders and apply it?"),
            run=services.sync_orders,
        )

    @admin.action(description=gettext_lazy("Refund"), permissions=["refund"])
    def refund(self, request: HttpRequest, queryset: QuerySet[Order]) -> TemplateResponse | None:
        return refund_action(
            self, request, list(queryset), left_of=services.refundable_amount, refund_one=_refund_order
        )


def _refund_order(order: Order, amount: Decimal | None, intent: services.RefundIntent, requested_by: str) -> Refund:
    return services.refund_order(order, amount=amount, requested_by=requested_by, intent=intent)


@admin.register(Checkout)
class CheckoutAdmin(RecordAdmin):
    list_display = ("__str__", "order", "status", "orkestapay_order_id", "merchant_reference", "created_at")
    list_filter = ("status", "created_at")
    list_select_related = ("order",)
    search_fields = ("orkestapay_checkout_id", "orkestapay_order_id", "order__merchant_order_id")
    hidden_fields = ("raw_response",)
    readonly_fields = ("raw_response_display",)

    @admin.display(description=gettext_lazy("raw response"))
    def raw_response_display(self, obj: Checkout) -> SafeString:
        return pretty_json(obj.raw_response)
