"""The webhook events' admin: every delivery as it arrived (payload, headers, raw body, read-only), and the action
that processes failed ones again (needs the change permission)."""

from __future__ import annotations

from django.contrib import admin
from django.db.models import QuerySet
from django.http import HttpRequest
from django.template.response import TemplateResponse
from django.utils.safestring import SafeString
from django.utils.translation import gettext as _
from django.utils.translation import gettext_lazy

from .. import services
from ..models import Event, EventStatus
from .common import confirm_or_run, pretty_json


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
