"""What every admin page of the app shares: records nobody adds or deletes, read-only JSON, the confirmation page
every action shows first, and the success and failure counts it reports."""

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

from .. import services

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


def confirmation_page(
    modeladmin: admin.ModelAdmin[Any],
    request: HttpRequest,
    *,
    title: str,
    question: str,
    rows: Sequence[tuple[Model, str]],
    **extra: Any,
) -> TemplateResponse:
    """The page an action shows before it does anything: the rows, the question, a form that confirms."""
    opts = modeladmin.model._meta
    context = {
        **modeladmin.admin_site.each_context(request),
        "title": title,
        "question": question,
        "rows": rows,
        "action": request.POST.get("action", ""),
        "action_checkbox_name": helpers.ACTION_CHECKBOX_NAME,
        "opts": opts,
        "changelist_url": reverse(f"admin:{opts.app_label}_{opts.model_name}_changelist"),
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
) -> TemplateResponse | None:
    """Show a confirmation page for an admin action; on the confirming POST, run it and report the counts."""
    if not queryset.exists():
        modeladmin.message_user(request, _("None of the selected rows can take this action."), messages.WARNING)
        return None
    if request.POST.get("confirm") == "yes":
        report_counts(modeladmin, request, run(queryset))
        return None
    return confirmation_page(modeladmin, request, title=title, question=question, rows=[(obj, "") for obj in queryset])


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


class ReadOnlyInline(admin.TabularInline):  # type: ignore[type-arg]
    """An order's related records on its page: shown, linked, never added, changed or deleted there."""

    extra = 0
    can_delete = False
    show_change_link = True

    def has_add_permission(self, request: HttpRequest, obj: Any = None) -> bool:
        return False

    def has_change_permission(self, request: HttpRequest, obj: Any = None) -> bool:
        return False
