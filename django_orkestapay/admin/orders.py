"""The order admin and the checkout admin.

The order list shows what an operator scans for (reference and customer, total, status, the review warning, date) and
fits a 1280 px laptop; the rest is on the order's page, which opens with its summary (status, money received,
refunded and left to refund, customer, how it was paid), a Refund button, the review, the items as a table, the
payments, refunds and attempts, and the details folded away. An order's amounts, items, currency and customer are
read-only here (and frozen in the model once offered); only its review flag and reason stay editable, through
``services.review_order``, which refuses a page shown before the review changed. Actions: refresh from OrkestaPay
(needs the change permission) and refund (needs ``orkestapay.refund_order``), also from the order's page.
"""

from __future__ import annotations

from decimal import Decimal
from typing import Any, ClassVar

from django.contrib import admin, messages
from django.contrib.admin.utils import unquote
from django.core.exceptions import PermissionDenied
from django.db import transaction
from django.db.models import QuerySet
from django.http import Http404, HttpRequest, HttpResponse, HttpResponseRedirect
from django.template.response import TemplateResponse
from django.urls import URLPattern, path, reverse
from django.utils.html import format_html
from django.utils.safestring import SafeString
from django.utils.text import capfirst
from django.utils.translation import gettext as _
from django.utils.translation import gettext_lazy

from .. import services
from ..exceptions import ReviewChangedError
from ..models import Checkout, Order, Refund
from .common import (
    LabelledValuesFilter,
    OrderColumn,
    RecordAdmin,
    confirm_or_run,
    date_column,
    money_column,
    pretty_json,
)
from .display import environment, items_table, review_flag
from .links import create_payment_links, has_add_payment_link_permission
from .order_page import OrderReviewForm, order_summary
from .refunding import refund_action

#: Set on the request when the review could not be saved after all (changed between the form's check and its save).
REVIEW_REFUSED = "_orkestapay_review_refused"


def has_refund_permission(request: HttpRequest) -> bool:
    """Whether the user may refund through OrkestaPay (``orkestapay.refund_order``)."""
    return bool(request.user.has_perm("orkestapay.refund_order"))


class EnvironmentFilter(LabelledValuesFilter):
    title = gettext_lazy("environment")
    field_name = "environment"

    def label(self, value: str) -> str:
        return environment(value)


def collapsed(title: Any, *fields: str) -> tuple[Any, dict[str, Any]]:
    return (title, {"fields": fields, "classes": ("collapse",)})


@admin.register(Order)
class OrderAdmin(RecordAdmin):
    change_form_template = "admin/orkestapay/order/change_form.html"
    form = OrderReviewForm
    list_display = ("order_display", "total_display", "status", "review_display", "created")
    list_filter = ("status", "needs_review", "review_code", "currency", EnvironmentFilter, "created_at")
    show_full_result_count = False  # no COUNT(*) over the whole table on every filtered page
    search_fields = ("merchant_order_id", "orkestapay_order_id", "orkestapay_payment_id", "customer_email")
    date_hierarchy = "created_at"
    editable_fields = ("needs_review", "review_reason")
    hidden_fields = ("items", "content_type", "object_id")
    readonly_fields = (
        "items_display",
        "subtotal_display",
        "discount_display",
        "shipping_display",
        "tax_display",
        "total_display",
        "environment_display",
        "stale_payment_display",
        "shop_object_display",
        "related_records",
    )
    fieldsets: ClassVar[Any] = (  # the summary is above them (change_form.html); the details folded
        (gettext_lazy("Review"), {"fields": ("needs_review", "review_code", "review_reason", "review_shown")}),
        (gettext_lazy("Line items"), {"fields": ("items_display",)}),
        collapsed(
            gettext_lazy("Amounts"),
            "subtotal_display",
            "discount_display",
            "shipping_display",
            "tax_display",
            "total_display",
            "currency",
            "country_code",
        ),
        collapsed(
            gettext_lazy("Customer"),
            "customer_first_name",
            "customer_last_name",
            "customer_email",
            "merchant_customer_id",
            "locale",
        ),
        collapsed(
            gettext_lazy("OrkestaPay"),
            "environment_display",
            "remote_status",
            "orkestapay_order_id",
            "orkestapay_payment_id",
            "last_error",
            "stale_payment_display",
            "last_synced_at",
        ),
        collapsed(
            gettext_lazy("Shop"),
            "merchant_order_id",
            "shop_object_display",
            "success_url",
            "cancel_url",
            "content_fingerprint",
            "related_records",
        ),
        collapsed(gettext_lazy("Record"), "id", "status", "paid_at", "status_changed_at", "created_at", "updated_at"),
    )
    actions = ("refresh_from_orkestapay", "refund", create_payment_links)
    has_add_payment_link_permission = has_add_payment_link_permission

    @admin.display(description=gettext_lazy("order"), ordering="merchant_order_id")
    def order_display(self, obj: Order) -> SafeString:
        """The reference, and beneath it the customer's e-mail (one column instead of two, to fit a laptop)."""
        return format_html('{}<br><span class="orkestapay-quiet">{}</span>', obj.merchant_order_id, obj.customer_email)

    total_display = money_column("total_amount", gettext_lazy("total"), ordering="total_amount")

    subtotal_display = money_column("subtotal_amount", gettext_lazy("subtotal"))

    discount_display = money_column("discount_amount", gettext_lazy("discounts"))

    shipping_display = money_column("shipping_amount", gettext_lazy("shipping"))

    tax_display = money_column("tax_amount", gettext_lazy("taxes"))

    @admin.display(description=gettext_lazy("needs review"), ordering="-needs_review")
    def review_display(self, obj: Order) -> SafeString | str:
        return review_flag(obj)

    created = date_column("created_at", gettext_lazy("created"))

    @admin.display(description=gettext_lazy("environment"))
    def environment_display(self, obj: Order) -> str:
        return environment(obj.environment)

    @admin.display(description=gettext_lazy("paid for stale contents"))
    def stale_payment_display(self, obj: Order) -> SafeString | str:
        if not obj.stale_payment:
            return _("No")
        return format_html('<span class="orkestapay-flag">{}</span>', Order._meta.get_field("stale_payment").help_text)

    @admin.display(description=gettext_lazy("line items"))
    def items_display(self, obj: Order) -> SafeString:
        return items_table(obj)

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

    def get_urls(self) -> list[URLPattern]:
        refund = transaction.non_atomic_requests(self.admin_site.admin_view(self.refund_view))
        own = [path("<path:object_id>/refund/", refund, name="orkestapay_order_refund")]
        return [*own, *super().get_urls()]

    def change_view(
        self, request: HttpRequest, object_id: str, form_url: str = "", extra_context: dict[str, Any] | None = None
    ) -> HttpResponse:
        order = self.get_object(request, unquote(object_id))
        context = dict(extra_context or {})
        if order is not None:
            context["summary"] = order_summary(order, may_refund=self.has_refund_permission(request))
            context["subtitle"] = order.merchant_order_id
            context["title"] = capfirst(Order._meta.verbose_name)
            context["last_error"] = order.last_error
        return super().change_view(request, object_id, form_url, context)

    def refund_view(self, request: HttpRequest, object_id: str) -> HttpResponse:
        """The order page's Refund button: the refund confirmation for this one order, then back to its page."""
        order = self.get_object(request, unquote(object_id))
        if order is None:
            raise Http404(_("No order with this id."))
        if not (self.has_view_or_change_permission(request, order) and self.has_refund_permission(request)):
            raise PermissionDenied
        back = reverse("admin:orkestapay_order_change", args=[order.pk])
        response = refund_action(
            self, request, [order], left_of=services.refundable_amount, refund_one=_refund_order, cancel_url=back
        )
        return response or HttpResponseRedirect(back)

    def save_model(self, request: HttpRequest, obj: Order, form: Any, change: bool) -> None:
        """Save the review the operator set, on the review the page showed (``services.review_order``)."""
        if not change or not {"needs_review", "review_reason"} & set(form.changed_data):
            return
        try:
            services.review_order(
                obj,
                needs_review=form.cleaned_data["needs_review"],
                review_reason=form.cleaned_data["review_reason"],
                shown=form.cleaned_data.get("review_shown") or "",
            )
        except ReviewChangedError as exc:  # changed between the form's check and this save
            setattr(request, REVIEW_REFUSED, True)
            self.message_user(request, f"{exc.message} " + _("Read the order's review again."), messages.ERROR)

    def log_change(self, request: HttpRequest, obj: Any, message: Any) -> Any:
        if getattr(request, REVIEW_REFUSED, False):
            return None
        return super().log_change(request, obj, message)

    def response_change(self, request: HttpRequest, obj: Order) -> HttpResponse:
        if getattr(request, REVIEW_REFUSED, False):
            return HttpResponseRedirect(request.path)
        return super().response_change(request, obj)

    @admin.action(description=gettext_lazy("Refresh status from OrkestaPay"), permissions=["change"])
    def refresh_from_orkestapay(self, request: HttpRequest, queryset: QuerySet[Order]) -> TemplateResponse | None:
        return confirm_or_run(
            self,
            request,
            queryset,
            title=_("Refresh status from OrkestaPay"),
            question=_("Ask OrkestaPay for the current status of these orders and apply it?"),
            run=services.sync_orders,
            recorded=_("Each failure is recorded on its order's last error."),
        )

    @admin.action(description=gettext_lazy("Refund"), permissions=["refund"])
    def refund(self, request: HttpRequest, queryset: QuerySet[Order]) -> TemplateResponse | None:
        return refund_action(
            self, request, list(queryset), left_of=services.refundable_amount, refund_one=_refund_order
        )


def _refund_order(order: Order, amount: Decimal | None, intent: services.RefundIntent, requested_by: str) -> Refund:
    return services.refund_order(order, amount=amount, requested_by=requested_by, intent=intent)


@admin.register(Checkout)
class CheckoutAdmin(OrderColumn, RecordAdmin):
    list_display = ("__str__", "order_reference", "status", "created")
    list_filter = ("status", "created_at")
    list_select_related = ("order",)
    search_fields = ("orkestapay_checkout_id", "orkestapay_order_id", "order__merchant_order_id")
    hidden_fields = ("raw_response",)
    readonly_fields = ("raw_response_display",)

    created = date_column("created_at", gettext_lazy("created"))

    @admin.display(description=gettext_lazy("raw response"))
    def raw_response_display(self, obj: Checkout) -> SafeString:
        return pretty_json(obj.raw_response)
