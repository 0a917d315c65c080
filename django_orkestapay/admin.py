"""Admin for orders, checkouts, refunds and webhook events: read-only records plus confirmed actions.

Every action (refresh from OrkestaPay, refund, retry a refund, reprocess an event) first shows a confirmation page,
then calls the service layer and reports how many succeeded and how many failed.
"""

from __future__ import annotations

import json
from collections.abc import Callable, Sequence
from decimal import Decimal
from typing import Any

from django.contrib import admin, messages
from django.contrib.admin import helpers
from django.core.exceptions import ValidationError
from django.db.models import Model, QuerySet
from django.http import HttpRequest
from django.template.response import TemplateResponse
from django.urls import reverse
from django.utils.html import format_html
from django.utils.safestring import SafeString
from django.utils.translation import gettext as _
from django.utils.translation import gettext_lazy, ngettext

from . import services
from .exceptions import OrkestaPayError
from .models import Checkout, Event, EventStatus, Order, OrderStatus, Refund, RefundStatus

CONFIRM_TEMPLATE = "admin/django_orkestapay/confirm_action.html"


def pretty_json(value: Any) -> SafeString:
    """A stored JSON value (or raw text) as an escaped, indented ``<pre>`` block."""
    if value in (None, "", {}, []):
        return format_html("<pre>{}</pre>", "-")
    text = value if isinstance(value, str) else json.dumps(value, indent=2, sort_keys=True, ensure_ascii=False)
    return format_html('<pre style="white-space: pre-wrap; max-width: 60em">{}</pre>', text)


def report_counts(modeladmin: admin.ModelAdmin[Any], request: HttpRequest, summary: services.BatchSummary) -> None:
    """One admin message with the success and failure counts of a batch."""
    text = _("%(succeeded)d succeeded, %(failed)d failed.") % {
        "succeeded": summary.succeeded,
        "failed": summary.failed,
    }
    if summary.failed:
        text += " " + _("Each failure is recorded on its row (last error).")
    modeladmin.message_user(request, text, messages.WARNING if summary.failed else messages.SUCCESS)


def confirm_or_run(
    modeladmin: admin.ModelAdmin[Any],
    request: HttpRequest,
    queryset: QuerySet[Any],
    *,
    title: str,
    question: str,
    run: Callable[[QuerySet[Any]], services.BatchSummary],
    rows: Sequence[tuple[Model, str]] | None = None,
    extra_fields: str = "",
) -> TemplateResponse | None:
    """Show a confirmation page for an admin action; on the confirming POST, run it and report the counts."""
    if rows is None and not queryset.exists():
        modeladmin.message_user(request, _("None of the selected rows can take this action."), messages.WARNING)
        return None
    if request.POST.get("confirm") == "yes":
        report_counts(modeladmin, request, run(queryset))
        return None
    opts = modeladmin.model._meta
    context = {
        **modeladmin.admin_site.each_context(request),
        "title": title,
        "question": question,
        "rows": rows if rows is not None else [(obj, "") for obj in queryset],
        "action": request.POST.get("action", ""),
        "action_checkbox_name": helpers.ACTION_CHECKBOX_NAME,
        "opts": opts,
        "extra_fields": extra_fields,
        "changelist_url": reverse(f"admin:{opts.app_label}_{opts.model_name}_changelist"),
    }
    return TemplateResponse(request, CONFIRM_TEMPLATE, context)


class CheckoutInline(admin.TabularInline):  # type: ignore[type-arg]
    model = Checkout
    extra = 0
    can_delete = False
    show_change_link = True
    fields = ("orkestapay_checkout_id", "status", "merchant_reference", "expires_at", "created_at", "error")
    readonly_fields = fields

    def has_add_permission(self, request: HttpRequest, obj: Any = None) -> bool:
        return False


class RefundInline(admin.TabularInline):  # type: ignore[type-arg]
    model = Refund
    extra = 0
    can_delete = False
    show_change_link = True
    fields = ("amount", "status", "transaction_id", "requested_by", "created_at", "error")
    readonly_fields = fields

    def has_add_permission(self, request: HttpRequest, obj: Any = None) -> bool:
        return False


@admin.register(Order)
class OrderAdmin(admin.ModelAdmin):  # type: ignore[type-arg]
    list_display = (
        "merchant_order_id",
        "customer_email",
        "total_display",
        "status",
        "needs_review",
        "orkestapay_order_id",
        "orkestapay_payment_id",
        "environment",
        "created_at",
    )
    list_filter = ("status", "needs_review", "currency", "environment", "created_at")
    show_full_result_count = False  # no COUNT(*) over the whole table on every filtered page
    search_fields = ("merchant_order_id", "orkestapay_order_id", "orkestapay_payment_id", "customer_email")
    date_hierarchy = "created_at"
    readonly_fields = (
        "id",
        "status",
        "remote_status",
        "orkestapay_order_id",
        "orkestapay_payment_id",
        "paid_at",
        "last_synced_at",
        "last_error",
        "created_at",
        "updated_at",
        "content_type",
        "object_id",
        "items_display",
        "related_records",
    )
    exclude = ("items",)
    inlines = (CheckoutInline, RefundInline)
    actions = ("refresh_from_orkestapay", "refund")

    @admin.display(description=gettext_lazy("total"), ordering="total_amount")
    def total_display(self, obj: Order) -> str:
        return f"{obj.total_amount} {obj.currency}"

    @admin.display(description=gettext_lazy("line items"))
    def items_display(self, obj: Order) -> SafeString:
        return pretty_json(obj.items)

    @admin.display(description=gettext_lazy("related records"))
    def related_records(self, obj: Order) -> SafeString:
        checkouts = reverse("admin:orkestapay_checkout_changelist") + f"?order__id__exact={obj.pk}"
        events = reverse("admin:orkestapay_event_changelist") + f"?order__id__exact={obj.pk}"
        refunds = reverse("admin:orkestapay_refund_changelist") + f"?order__id__exact={obj.pk}"
        return format_html(
            '<a href="{}">{}</a> · <a href="{}">{}</a> · <a href="{}">{}</a>',
            checkouts,
            _("Checkouts"),
            events,
            _("Webhook events"),
            refunds,
            _("Refunds"),
        )

    @admin.action(description=gettext_lazy("Refresh status from OrkestaPay"))
    def refresh_from_orkestapay(self, request: HttpRequest, queryset: QuerySet[Order]) -> TemplateResponse | None:
        return confirm_or_run(
            self,
            request,
            queryset,
            title=_("Refresh status from OrkestaPay"),
            question=_("Ask OrkestaPay for the current status of these orders and apply it?"),
            run=services.sync_orders,
        )

    @admin.action(description=gettext_lazy("Refund"), permissions=["change"])
    def refund(self, request: HttpRequest, queryset: QuerySet[Order]) -> TemplateResponse | None:
        orders = list(queryset.filter(status__in=[OrderStatus.PAID, OrderStatus.PARTIALLY_REFUNDED]))
        skipped = queryset.count() - len(orders)
        if skipped and (request.POST.get("confirm") == "yes" or not orders):
            self.message_user(
                request,
                ngettext(
                    "%(count)d order is not paid and was left out.",
                    "%(count)d orders are not paid and were left out.",
                    skipped,
                )
                % {"count": skipped},
                messages.WARNING,
            )
        if not orders:
            return None
        requested_by = request.user.get_username()
        single = orders[0] if len(orders) == 1 else None
        if request.POST.get("confirm") == "yes" and single is not None and request.POST.get("amount"):
            self._refund_one(request, single, request.POST["amount"], requested_by)
            return None
        rows = [(order, f"{services.refundable_amount(order)} {order.currency}") for order in orders]
        return confirm_or_run(
            self,
            request,
            queryset.filter(pk__in=[order.pk for order in orders]),
            title=_("Refund"),
            question=_(
                "Refund these orders through OrkestaPay? Each is refunded by the amount shown (what is left to "
                "refund). This returns money to the buyer and cannot be undone."
            ),
            run=lambda selected: services.refund_orders(selected, requested_by=requested_by),
            rows=rows,
            extra_fields="amount" if single is not None else "",
        )

    def _refund_one(self, request: HttpRequest, order: Order, amount: str, requested_by: str) -> None:
        summary = services.BatchSummary()
        try:
            services.refund_order(order, amount=Decimal(amount.strip().replace(",", ".")), requested_by=requested_by)
            summary.succeeded = 1
        except (OrkestaPayError, ArithmeticError, ValueError, ValidationError) as exc:  # bad amount or API refusal
            summary.failed = 1
            text = "; ".join(exc.messages) if isinstance(exc, ValidationError) else str(exc)
            self.message_user(request, text, messages.ERROR)
        report_counts(self, request, summary)


@admin.register(Checkout)
class CheckoutAdmin(admin.ModelAdmin):  # type: ignore[type-arg]
    list_display = ("__str__", "order", "status", "orkestapay_order_id", "merchant_reference", "created_at")
    list_filter = ("status", "created_at")
    list_select_related = ("order",)
    search_fields = ("orkestapay_checkout_id", "orkestapay_order_id", "order__merchant_order_id")
    exclude = ("raw_response",)
    readonly_fields = [field.name for field in Checkout._meta.fields if field.name != "raw_response"] + [
        "raw_response_display"
    ]

    @admin.display(description=gettext_lazy("raw response"))
    def raw_response_display(self, obj: Checkout) -> SafeString:
        return pretty_json(obj.raw_response)

    def has_add_permission(self, request: HttpRequest) -> bool:
        return False


@admin.register(Refund)
class RefundAdmin(admin.ModelAdmin):  # type: ignore[type-arg]
    list_display = ("__str__", "order", "amount", "status", "transaction_id", "requested_by", "created_at")
    list_filter = ("status", "created_at")
    list_select_related = ("order",)
    search_fields = ("transaction_id", "payment_id", "order__merchant_order_id", "idempotency_key")
    exclude = ("raw_response",)
    readonly_fields = [field.name for field in Refund._meta.fields if field.name != "raw_response"] + [
        "raw_response_display"
    ]
    actions = ("retry",)

    @admin.display(description=gettext_lazy("raw response"))
    def raw_response_display(self, obj: Refund) -> SafeString:
        return pretty_json(obj.raw_response)

    def has_add_permission(self, request: HttpRequest) -> bool:
        return False

    @admin.action(description=gettext_lazy("Resend refund (same idempotency key)"), permissions=["change"])
    def retry(self, request: HttpRequest, queryset: QuerySet[Refund]) -> TemplateResponse | None:
        return confirm_or_run(
            self,
            request,
            queryset.filter(status=RefundStatus.REQUESTED),
            title=_("Resend refund"),
            question=_(
                "Resend these refunds whose outcome is unknown? Each carries its original idempotency key, so "
                "OrkestaPay cannot refund twice."
            ),
            run=services.retry_refunds,
        )


@admin.register(Event)
class EventAdmin(admin.ModelAdmin):  # type: ignore[type-arg]
    list_display = ("__str__", "event_type", "status", "verified", "order", "attempts", "received_at")
    list_filter = ("status", "event_type", "verified", "received_at")
    list_select_related = ("order",)
    search_fields = ("message_id", "claimed_message_id", "orkestapay_order_id", "order__merchant_order_id")
    exclude = ("payload", "headers", "raw_body")
    readonly_fields = [f.name for f in Event._meta.fields if f.name not in ("payload", "headers", "raw_body")] + [
        "payload_display",
        "headers_display",
        "raw_body_display",
    ]
    actions = ("reprocess",)

    @admin.display(description=gettext_lazy("payload"))
    def payload_display(self, obj: Event) -> SafeString:
        return pretty_json(obj.payload)

    @admin.display(description=gettext_lazy("headers"))
    def headers_display(self, obj: Event) -> SafeString:
        return pretty_json(obj.headers)

    @admin.display(description=gettext_lazy("raw body"))
    def raw_body_display(self, obj: Event) -> SafeString:
        return pretty_json(obj.raw_body)

    def has_add_permission(self, request: HttpRequest) -> bool:
        return False

    @admin.action(description=gettext_lazy("Reprocess event"), permissions=["change"])
    def reprocess(self, request: HttpRequest, queryset: QuerySet[Event]) -> TemplateResponse | None:
        return confirm_or_run(
            self,
            request,
            queryset.filter(verified=True).exclude(status=EventStatus.PROCESSED),
            title=_("Reprocess event"),
            question=_(
                "Process these verified, unprocessed events again? Each re-reads its order from OrkestaPay; "
                "an event already applied changes nothing."
            ),
            run=services.reprocess_events,
        )
