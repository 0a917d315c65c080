"""The payment link admin: add a link to an order (its own lifetime, or ``PAYMENT_LINK_LIFETIME``), copy its URL to
send by e-mail or chat, revoke it. Links are made and revoked by :mod:`django_orkestapay.services.payment_links`;
nothing else about a link changes here. The order admin's *Create payment links* action is
:func:`create_payment_links`."""

from __future__ import annotations

from typing import Any

from django import forms
from django.contrib import admin, messages
from django.core.exceptions import ValidationError
from django.db.models import Q, QuerySet
from django.http import HttpRequest
from django.template.response import TemplateResponse
from django.utils import timezone
from django.utils.html import format_html
from django.utils.safestring import SafeString
from django.utils.translation import gettext as _
from django.utils.translation import gettext_lazy, ngettext

from .. import services
from ..exceptions import OrderNotPayableError
from ..models import Order, PaymentLink, PaymentLinkStatus
from .common import confirm_or_run


class PaymentLinkForm(forms.ModelForm):  # type: ignore[type-arg]
    """The add form: the order, and a lifetime in hours (empty: the ``PAYMENT_LINK_LIFETIME`` setting)."""

    lifetime_hours = forms.IntegerField(
        label=gettext_lazy("lifetime (hours)"),
        required=False,
        min_value=1,
        max_value=24 * 366,
        help_text=gettext_lazy("Empty: the PAYMENT_LINK_LIFETIME setting."),
    )

    class Meta:
        model = PaymentLink
        fields = ("order",)

    def clean_order(self) -> Order:
        order: Order = self.cleaned_data["order"]
        if not order.is_payable:
            raise ValidationError(_("This order can no longer be paid: no payment link."))
        return order


def _send_url_message(modeladmin: admin.ModelAdmin[Any], request: HttpRequest, link: PaymentLink) -> None:
    url = services.payment_link_url(link, request.build_absolute_uri)
    text = format_html(
        _("Payment link for order {reference}: {link}"),
        reference=link.order.merchant_order_id,
        link=format_html('<a href="{}">{}</a>', url, url),
    )
    modeladmin.message_user(request, text, messages.SUCCESS)


class StatusFilter(admin.SimpleListFilter):
    """Active, expired or revoked (computed from ``expires_at`` and ``revoked_at`` at the time of the request)."""

    title = gettext_lazy("status")
    parameter_name = "status"

    def lookups(self, request: HttpRequest, model_admin: admin.ModelAdmin[Any]) -> list[tuple[str, str]]:
        return [(str(value), str(label)) for value, label in PaymentLinkStatus.choices]

    def queryset(self, request: HttpRequest, queryset: QuerySet[Any]) -> QuerySet[Any]:
        now = timezone.now()
        live = Q(revoked_at__isnull=True)
        if self.value() == PaymentLinkStatus.ACTIVE:
            return queryset.filter(live & (Q(expires_at__isnull=True) | Q(expires_at__gt=now)))
        if self.value() == PaymentLinkStatus.EXPIRED:
            return queryset.filter(live & Q(expires_at__lte=now))
        if self.value() == PaymentLinkStatus.REVOKED:
            return queryset.filter(revoked_at__isnull=False)
        return queryset


@admin.register(PaymentLink)
class PaymentLinkAdmin(admin.ModelAdmin):  # type: ignore[type-arg]
    list_display = ("order", "status_display", "link_display", "expires_at", "created_by", "created_at")
    list_select_related = ("order",)
    list_filter = (StatusFilter, "created_at")
    search_fields = ("order__merchant_order_id", "order__customer_email")
    raw_id_fields = ("order",)
    readonly_fields = ("url_display", "status_display", "expires_at", "revoked_at", "revoked_by", "created_by")
    actions = ("revoke",)

    def get_form(self, request: HttpRequest, obj: Any = None, change: bool = False, **kwargs: Any) -> Any:
        if obj is None:
            kwargs["form"] = PaymentLinkForm
        return super().get_form(request, obj, change=change, **kwargs)

    def get_fields(self, request: HttpRequest, obj: Any = None) -> Any:
        if obj is None:
            return ["order", "lifetime_hours"]
        return ["order", "url_display", "status_display", "expires_at", "revoked_at", "revoked_by", "created_by"]

    def get_readonly_fields(self, request: HttpRequest, obj: Any = None) -> list[str]:
        return [] if obj is None else ["order", *self.readonly_fields]

    def has_change_permission(self, request: HttpRequest, obj: Any = None) -> bool:
        return False if obj is not None else super().has_change_permission(request, obj)

    def has_delete_permission(self, request: HttpRequest, obj: Any = None) -> bool:
        return False  # revoke instead: the row says who revoked it and when

    def save_model(self, request: HttpRequest, obj: PaymentLink, form: Any, change: bool) -> None:
        """Make the link through the service layer (token, expiry, the ``payment_link_created`` signal)."""
        hours = form.cleaned_data.get("lifetime_hours")
        own_lifetime = {"lifetime": hours * 3600} if hours else {}  # else the PAYMENT_LINK_LIFETIME setting
        made = services.create_payment_link(
            obj.order,
            created_by=request.user.get_username(),
            build_absolute_uri=request.build_absolute_uri,
            **own_lifetime,
        )
        obj.pk, obj.token, obj.expires_at, obj.created_at = made.pk, made.token, made.expires_at, made.created_at
        obj.created_by = made.created_by
        obj._state.adding = False
        obj._state.db = made._state.db
        _send_url_message(self, request, made)

    @admin.display(description=gettext_lazy("link"))
    def url_display(self, obj: PaymentLink) -> SafeString:
        """The whole path, to copy (with this site's address in front; the add message gives the full URL)."""
        path = obj.get_absolute_url()
        return format_html('<a href="{}" rel="noreferrer"><code style="user-select: all">{}</code></a>', path, path)

    @admin.display(description=gettext_lazy("link"))
    def link_display(self, obj: PaymentLink) -> SafeString:
        """The list's short form: the start of the token, linked to the page (copy the link's address)."""
        return format_html('<a href="{}" rel="noreferrer">…/{}…</a>', obj.get_absolute_url(), obj.token[:8])

    @admin.display(description=gettext_lazy("status"))
    def status_display(self, obj: PaymentLink) -> str:
        return obj.get_status_display()

    @admin.action(description=gettext_lazy("Revoke"), permissions=["revoke"])
    def revoke(self, request: HttpRequest, queryset: QuerySet[PaymentLink]) -> TemplateResponse | None:
        username = request.user.get_username()
        return confirm_or_run(
            self,
            request,
            queryset.filter(revoked_at__isnull=True),
            title=_("Revoke payment links"),
            question=_("Revoke these payment links? Their pages will say so, and they start no more payments."),
            run=lambda links: services.revoke_payment_links(links, revoked_by=username),
        )

    def has_revoke_permission(self, request: HttpRequest) -> bool:
        return bool(request.user.has_perm("orkestapay.change_paymentlink"))


def has_add_payment_link_permission(modeladmin: admin.ModelAdmin[Any], request: HttpRequest) -> bool:
    """Whether the user may make payment links (``orkestapay.add_paymentlink``): the order admin's
    :func:`create_payment_links` action is shown only then."""
    return bool(request.user.has_perm("orkestapay.add_paymentlink"))


@admin.action(description=gettext_lazy("Create payment links"), permissions=["add_payment_link"])
def create_payment_links(modeladmin: admin.ModelAdmin[Any], request: HttpRequest, queryset: QuerySet[Order]) -> None:
    """The order admin's action: a link for each selected order that can be paid (``PAYMENT_LINK_LIFETIME``), its
    URL shown to copy; orders that cannot be paid are skipped and counted. Offered (and run: Django refuses an action
    it does not offer) only with ``orkestapay.add_paymentlink`` (:func:`has_add_payment_link_permission`)."""
    skipped = 0
    for order in queryset:
        try:
            link = services.create_payment_link(
                order, created_by=request.user.get_username(), build_absolute_uri=request.build_absolute_uri
            )
        except OrderNotPayableError:
            skipped += 1
        else:
            _send_url_message(modeladmin, request, link)
    if skipped:
        text = ngettext(
            "%(count)d order can no longer be paid: no link was made for it.",
            "%(count)d orders can no longer be paid: no link was made for them.",
            skipped,
        ) % {"count": skipped}
        modeladmin.message_user(request, text, messages.WARNING)
