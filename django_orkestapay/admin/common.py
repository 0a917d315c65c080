"""What every admin page of the app shares: records nobody adds or deletes, read-only JSON, the confirmation page
every action shows first, the success and failure counts it reports, and the app's admin stylesheet (lists that
fit a laptop, a phone layout)."""

from __future__ import annotations

import json
from collections.abc import Callable, Sequence
from typing import Any

from django.contrib import admin, messages
from django.contrib.admin import helpers
from django.db import transaction
from django.db.models import Model, QuerySet
from django.http import HttpRequest, HttpResponse
from django.template.response import TemplateResponse
from django.urls import reverse
from django.utils.decorators import method_decorator
from django.utils.html import format_html
from django.utils.safestring import SafeString
from django.utils.translation import gettext as _
from django.utils.translation import gettext_lazy

from .. import services
from .display import describe, money, short_datetime

CONFIRM_TEMPLATE = "admin/django_orkestapay/confirm_action.html"
#: The app's admin stylesheet: columns that fit a 1280 px laptop, the order page's summary, a phone layout.
STYLESHEET = "django_orkestapay/admin.css"


def pretty_json(value: Any) -> SafeString:
    """A stored JSON value (or raw text) as an escaped, indented ``<pre>`` block."""
    if value in (None, "", {}, []):
        return format_html("<pre>{}</pre>", "-")
    text = value if isinstance(value, str) else json.dumps(value, indent=2, sort_keys=True, ensure_ascii=False)
    return format_html('<pre style="white-space: pre-wrap; max-width: 60em">{}</pre>', text)


def report_counts(
    modeladmin: admin.ModelAdmin[Any], request: HttpRequest, summary: services.BatchSummary, *, recorded: str = ""
) -> None:
    """One admin message with the success and failure counts of a batch; ``recorded`` says where each failure is
    recorded (only where the service records it)."""
    text = _("%(succeeded)d succeeded, %(failed)d failed.") % {
        "succeeded": summary.succeeded,
        "failed": summary.failed,
    }
    if summary.failed and recorded:
        text += " " + recorded
    modeladmin.message_user(request, text, messages.WARNING if summary.failed else messages.SUCCESS)


def confirmation_page(
    modeladmin: admin.ModelAdmin[Any],
    request: HttpRequest,
    *,
    title: str,
    question: str,
    rows: Sequence[tuple[Model, str]],
    cancel_url: str = "",
    notices: Sequence[str] = (),
    **extra: Any,
) -> TemplateResponse:
    """The page an action shows before it does anything: the rows (each with the line that describes it), the
    question, a form that confirms.

    ``cancel_url``: where *No, take me back* leads (the list by default); ``notices``: short lines shown above the
    question (what the operator should know before confirming)."""
    opts = modeladmin.model._meta
    changelist_url = reverse(f"admin:{opts.app_label}_{opts.model_name}_changelist")
    context = {
        **modeladmin.admin_site.each_context(request),
        "title": title,
        "question": question,
        "rows": rows,
        "action": request.POST.get("action", ""),
        "action_checkbox_name": helpers.ACTION_CHECKBOX_NAME,
        "opts": opts,
        "changelist_url": changelist_url,
        "cancel_url": cancel_url or changelist_url,
        "notices": notices,
        **extra,
    }
    return TemplateResponse(request, CONFIRM_TEMPLATE, context)


def confirm_or_run(
    modeladmin: admin.ModelAdmin[Any],
    request: HttpRequest,
    queryset: QuerySet[Any],
    *,
    title: str,
    question: str,
    run: Callable[[QuerySet[Any]], services.BatchSummary],
    recorded: str = "",
) -> TemplateResponse | None:
    """Show a confirmation page for an admin action; on the confirming POST, run it and report the counts
    (``recorded``: where the service records each failure, see :func:`report_counts`)."""
    if not queryset.exists():
        modeladmin.message_user(request, _("None of the selected rows can take this action."), messages.WARNING)
        return None
    if request.POST.get("confirm") == "yes":
        report_counts(modeladmin, request, run(queryset), recorded=recorded)
        return None
    rows = [(obj, describe(obj)) for obj in queryset]
    return confirmation_page(modeladmin, request, title=title, question=question, rows=rows)


class RecordAdmin(admin.ModelAdmin):  # type: ignore[type-arg]
    """A record of what happened (an order, an attempt, a payment, a refund, a webhook delivery): shown, never added
    or deleted here, every field read-only except ``editable_fields``.

    Its changelist (where actions run) is not wrapped in ``ATOMIC_REQUESTS``: the service layer owns its
    transactions, and a refund must be committed before OrkestaPay is called. A subclass that overrides
    ``changelist_view`` decorates it the same way.
    """

    #: The model fields an operator may still change (none by default).
    editable_fields: tuple[str, ...] = ()
    #: Fields shown through a display method instead (JSON), or not at all.
    hidden_fields: tuple[str, ...] = ()

    class Media:
        css = {"all": (STYLESHEET,)}

    def has_add_permission(self, request: HttpRequest, obj: Any = None) -> bool:
        return False

    def has_delete_permission(self, request: HttpRequest, obj: Any = None) -> bool:
        return False

    def get_exclude(self, request: HttpRequest, obj: Any = None) -> tuple[str, ...]:
        return self.hidden_fields

    def save_model(self, request: HttpRequest, obj: Any, form: Any, change: bool) -> None:
        """Save only the editable fields the operator changed: the rest of the row (its status, say) may have
        changed meanwhile and is never written back from the form."""
        if not change:
            super().save_model(request, obj, form, change)
            return
        fields = [name for name in self.editable_fields if name in form.changed_data]
        if fields:
            stamped = any(field.name == "updated_at" for field in self.model._meta.fields)
            obj.save(update_fields=[*fields, "updated_at"] if stamped else fields)

    def get_readonly_fields(self, request: HttpRequest, obj: Any = None) -> list[str]:
        own = [
            field.name
            for field in self.model._meta.fields
            if field.name not in self.editable_fields and field.name not in self.hidden_fields
        ]
        return [*own, *self.readonly_fields]

    @method_decorator(transaction.non_atomic_requests)
    def changelist_view(self, request: HttpRequest, extra_context: dict[str, Any] | None = None) -> HttpResponse:
        return super().changelist_view(request, extra_context)


class LabelledValuesFilter(admin.SimpleListFilter):
    """A filter over the values a field holds (one query), each shown in words (``label``) instead of as stored."""

    #: The field filtered on; also the query string's parameter.
    field_name = ""

    def __init__(self, request: HttpRequest, params: dict[str, Any], model: Any, model_admin: Any) -> None:
        self.parameter_name = self.field_name
        super().__init__(request, params, model, model_admin)

    def label(self, value: str) -> str:
        return value

    def lookups(self, request: HttpRequest, model_admin: Any) -> list[tuple[str, str]]:
        values = model_admin.get_queryset(request).order_by(self.field_name).values_list(self.field_name, flat=True)
        return [(value, self.label(value)) for value in values.distinct() if value]

    def queryset(self, request: HttpRequest, queryset: QuerySet[Any]) -> QuerySet[Any]:
        value = self.value()
        return queryset.filter(**{self.field_name: value}) if value else queryset


def money_column(
    field: str, description: Any, *, ordering: str | None = None, currency: Callable[[Any], str] | None = None
) -> Callable[[Any, Any], str]:
    """A column (or read-only field) showing the amount in ``field`` as the shop writes money, with the record's
    currency (``currency(obj)`` when the record has none of its own)."""

    @admin.display(description=description, ordering=ordering)
    def column(modeladmin: Any, obj: Any) -> str:
        return money(getattr(obj, field), currency(obj) if currency else obj.currency)

    return column


def date_column(field: str, description: Any) -> Callable[[Any, Any], str]:
    """A list column showing the moment in ``field`` in the short form (``03/12/2026 11:04``), sortable by it."""

    @admin.display(description=description, ordering=field)
    def column(modeladmin: Any, obj: Any) -> str:
        return short_datetime(getattr(obj, field))

    return column


class OrderColumn:
    """The ``order_reference`` column of a record that belongs to an order (a checkout, payment, refund, event): the
    order's reference, not its full description (list it with ``list_select_related = ("order",)``)."""

    @admin.display(description=gettext_lazy("order"), ordering="order__merchant_order_id")
    def order_reference(self, obj: Any) -> str:
        return obj.order.merchant_order_id if obj.order_id else "-"
