"""Admin for orders and checkouts: read-mostly, with a "refresh status from OrkestaPay" action."""

from __future__ import annotations

from typing import Any

from django.contrib import admin, messages
from django.db.models import QuerySet
from django.http import HttpRequest
from django.utils.translation import gettext_lazy as _
from django.utils.translation import ngettext

from . import services
from .models import Checkout, Event, EventStatus, Order


class CheckoutInline(admin.TabularInline):  # type: ignore[type-arg]
    model = Checkout
    extra = 0
    can_delete = False
    show_change_link = True
    fields = ("orkestapay_checkout_id", "status", "merchant_reference", "expires_at", "created_at", "error")
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
        "remote_status",
        "needs_review",
        "orkestapay_order_id",
        "environment",
        "created_at",
    )
    list_filter = ("status", "needs_review", "currency", "environment", "created_at")
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
        "items",
    )
    inlines = (CheckoutInline,)
    actions = ("refresh_from_orkestapay",)

    @admin.display(description=_("total"), ordering="total_amount")
    def total_display(self, obj: Order) -> str:
        return f"{obj.total_amount} {obj.currency}"

    @admin.action(description=_("Refresh status from OrkestaPay"))
    def refresh_from_orkestapay(self, request: HttpRequest, queryset: QuerySet[Order]) -> None:
        summary = services.sync_orders(queryset)
        succeeded, failed = summary.succeeded, summary.failed
        if succeeded:
            self.message_user(
                request,
                ngettext("%(count)d order refreshed.", "%(count)d orders refreshed.", succeeded) % {"count": succeeded},
                messages.SUCCESS,
            )
        if failed:
            self.message_user(
                request,
                ngettext(
                    "%(count)d order could not be refreshed (see its last error).",
                    "%(count)d orders could not be refreshed (see their last error).",
                    failed,
                )
                % {"count": failed},
                messages.ERROR,
            )


@admin.register(Checkout)
class CheckoutAdmin(admin.ModelAdmin):  # type: ignore[type-arg]
    list_display = ("__str__", "order", "status", "orkestapay_order_id", "expires_at", "created_at")
    list_filter = ("status", "created_at")
    list_select_related = ("order",)
    search_fields = ("orkestapay_checkout_id", "orkestapay_order_id", "order__merchant_order_id")
    readonly_fields = [field.name for field in Checkout._meta.fields]

    def has_add_permission(self, request: HttpRequest) -> bool:
        return False


@admin.register(Event)
class EventAdmin(admin.ModelAdmin):  # type: ignore[type-arg]
    list_display = ("__str__", "event_type", "status", "verified", "order", "attempts", "received_at")
    list_filter = ("status", "event_type", "verified", "received_at")
    list_select_related = ("order",)
    search_fields = ("message_id", "claimed_message_id", "orkestapay_order_id", "order__merchant_order_id")
    readonly_fields = [field.name for field in Event._meta.fields]
    actions = ("reprocess",)

    def has_add_permission(self, request: HttpRequest) -> bool:
        return False

    @admin.action(description=_("Reprocess event"))
    def reprocess(self, request: HttpRequest, queryset: QuerySet[Event]) -> None:
        summary = services.reprocess_events(queryset.filter(verified=True).exclude(status=EventStatus.PROCESSED))
        self.message_user(
            request,
            _("%(ok)d event(s) reprocessed, %(failed)d failed.") % {"ok": summary.succeeded, "failed": summary.failed},
            messages.ERROR if summary.failed else messages.SUCCESS,
        )
