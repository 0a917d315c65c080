"""Payment links: an order's pay page at an unguessable address, to send to the buyer by e-mail or chat."""

from __future__ import annotations

import uuid
from datetime import datetime

from django.db import models
from django.urls import reverse
from django.utils import timezone
from django.utils.translation import gettext_lazy as _
from django.utils.translation import pgettext_lazy

from .orders import Order


class PaymentLinkStatus(models.TextChoices):
    """Whether a link can be used now (computed, not stored: expiry is a matter of time)."""

    ACTIVE = "active", pgettext_lazy("payment link", "Active")
    EXPIRED = "expired", pgettext_lazy("payment link", "Expired")
    REVOKED = "revoked", pgettext_lazy("payment link", "Revoked")


class PaymentLink(models.Model):
    """A link that opens an order's pay page: what is to be paid and its pay button, for whoever holds the link.

    ``token`` is the secret in the URL (``/orkestapay/link/<token>/``): 256 random bits, never the primary key nor
    anything sequential. Treat it as a password reset link: whoever has it sees the order's items and amounts (not
    the buyer's e-mail) and can pay it. Made, revoked and resolved by :mod:`django_orkestapay.services.payment_links`.
    """

    id = models.UUIDField(primary_key=True, default=uuid.uuid4, editable=False)
    order = models.ForeignKey(Order, on_delete=models.CASCADE, related_name="payment_links", verbose_name=_("order"))
    token = models.CharField(_("token"), max_length=64, unique=True, editable=False)
    expires_at = models.DateTimeField(
        _("expires at"), null=True, blank=True, db_index=True, help_text=_("Empty: the link does not expire.")
    )
    revoked_at = models.DateTimeField(_("revoked at"), null=True, blank=True)
    revoked_by = models.CharField(_("revoked by"), max_length=150, blank=True)
    created_by = models.CharField(_("created by"), max_length=150, blank=True)
    created_at = models.DateTimeField(_("created"), default=timezone.now, db_index=True)

    class Meta:
        verbose_name = _("payment link")
        verbose_name_plural = _("payment links")
        ordering = ["-created_at"]

    def __str__(self) -> str:
        return f"{self.order.merchant_order_id} ({self.get_status_display()})"

    def get_absolute_url(self) -> str:
        """The link's path on this site (``services.payment_link_url`` gives the full URL to send)."""
        return reverse("orkestapay:payment_link", args=[self.token])

    def status_at(self, now: datetime) -> str:
        """:class:`PaymentLinkStatus` at ``now``: revoked wins over expired."""
        if self.revoked_at is not None:
            return PaymentLinkStatus.REVOKED
        if self.expires_at is not None and self.expires_at <= now:
            return PaymentLinkStatus.EXPIRED
        return PaymentLinkStatus.ACTIVE

    @property
    def status(self) -> str:
        """:meth:`status_at` now."""
        return self.status_at(timezone.now())

    def get_status_display(self) -> str:
        return str(PaymentLinkStatus(self.status).label)
