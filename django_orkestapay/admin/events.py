"""The webhook events' admin: every delivery as it arrived (payload, headers, raw body, read-only), the action
that processes failed ones again (needs the change permission), and the daily counts of refused deliveries (only
the newest are kept as events; the Event list says how many were refused lately)."""

from __future__ import annotations

from datetime import timedelta
from typing import Any

from django.contrib import admin
from django.db import transaction
from django.db.models import Q, QuerySet, Sum
from django.http import HttpRequest, HttpResponse
from django.template.response import TemplateResponse
from django.urls import reverse
from django.utils import timezone
from django.utils.decorators import method_decorator
from django.utils.safestring import SafeString
from django.utils.translation import gettext as _
from django.utils.translation import gettext_lazy

from .. import conf, services
from ..models import Event, EventStatus, RejectedWebhookCount
from .common import OrderColumn, RecordAdmin, confirm_or_run, date_column, pretty_json


@admin.register(Event)
class EventAdmin(OrderColumn, RecordAdmin):
    list_display = ("kind", "status", "verified", "order_reference", "received")
    list_filter = ("status", "event_type", "verified", "received_at")
    list_select_related = ("order",)
    search_fields = ("message_id", "claimed_message_id", "orkestapay_order_id", "order__merchant_order_id")
    hidden_fields = ("payload", "headers", "raw_body")
    readonly_fields = ("payload_display", "headers_display", "raw_body_display")
    actions = ("reprocess",)

    @admin.display(description=gettext_lazy("event type"), ordering="event_type")
    def kind(self, obj: Event) -> str:
        return obj.event_type or "-"

    received = date_column("received_at", gettext_lazy("received"))

    @admin.display(description=gettext_lazy("payload"))
    def payload_display(self, obj: Event) -> SafeString:
        return pretty_json(obj.payload)

    @admin.display(description=gettext_lazy("headers"))
    def headers_display(self, obj: Event) -> SafeString:
        return pretty_json(obj.headers)

    @admin.display(description=gettext_lazy("raw body"))
    def raw_body_display(self, obj: Event) -> SafeString:
        return pretty_json(obj.raw_body)

    @method_decorator(transaction.non_atomic_requests)  # as RecordAdmin's: Reprocess calls OrkestaPay
    def changelist_view(self, request: HttpRequest, extra_context: dict[str, Any] | None = None) -> HttpResponse:
        return super().changelist_view(request, {**(extra_context or {}), "refused": refused_lately()})

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
            recorded=_("Each failure is recorded on its event's error."),
        )


def refused_lately() -> dict[str, Any]:
    """Refused deliveries today and in the last 7 days (one query), how many are kept as events, and where the
    daily counts are."""
    today = timezone.localdate()
    totals = RejectedWebhookCount.objects.filter(day__gt=today - timedelta(days=7)).aggregate(
        week=Sum("count"), today=Sum("count", filter=Q(day=today))
    )
    return {
        "today": totals["today"] or 0,
        "week": totals["week"] or 0,
        "kept": int(conf.get("REJECTED_WEBHOOKS_KEPT") or 0),
        "counts_url": reverse("admin:orkestapay_rejectedwebhookcount_changelist"),
    }


@admin.register(RejectedWebhookCount)
class RejectedWebhookCountAdmin(RecordAdmin):
    """Refused webhook deliveries per day and kind: every one counted, whatever was kept as an event."""

    list_display = ("day", "kind", "count", "last_received_at")
    list_filter = ("kind",)
    date_hierarchy = "day"
