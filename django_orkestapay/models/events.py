"""Webhook deliveries as they arrived, stored before anything acts on them; and the daily count of those refused."""

from __future__ import annotations

from django.db import models
from django.utils import timezone
from django.utils.translation import gettext_lazy as _

from .orders import Order


class EventStatus(models.TextChoices):
    """What happened to one webhook delivery."""

    RECEIVED = "received", _("Received")
    PROCESSED = "processed", _("Processed")
    IGNORED = "ignored", _("Ignored")
    FAILED = "failed", _("Failed (will be retried)")
    REJECTED = "rejected", _("Rejected")


class Event(models.Model):
    """One webhook delivery from OrkestaPay, stored before anything acts on it.

    ``message_id`` (the ``svix-id``) is unique for verified deliveries, so a retry or a duplicate is recognised.
    Rejected deliveries (bad signature, malformed body) keep the id they claimed in ``claimed_message_id`` and leave
    ``message_id`` empty: a forger cannot occupy the id of a real event.
    """

    message_id = models.CharField(_("message id"), max_length=255, unique=True, null=True, blank=True)
    claimed_message_id = models.CharField(_("claimed message id"), max_length=255, blank=True)
    event_type = models.CharField(_("event type"), max_length=64, blank=True, db_index=True)
    status = models.CharField(
        _("status"), max_length=16, choices=EventStatus.choices, default=EventStatus.RECEIVED, db_index=True
    )
    verified = models.BooleanField(_("signature verified"), default=False)
    raw_body = models.TextField(_("raw body"), blank=True)
    headers = models.JSONField(_("headers"), default=dict, blank=True)
    payload = models.JSONField(_("payload"), null=True, blank=True)
    orkestapay_order_id = models.CharField(_("OrkestaPay order id"), max_length=64, blank=True, db_index=True)
    order = models.ForeignKey(
        Order, on_delete=models.SET_NULL, null=True, blank=True, related_name="events", verbose_name=_("order")
    )
    error = models.TextField(_("error"), blank=True)
    covered_by = models.ForeignKey(
        "self",
        on_delete=models.SET_NULL,
        null=True,
        blank=True,
        related_name="covered",
        verbose_name=_("processed by the read of"),
        help_text=_(
            "The event whose read of the same OrkestaPay order settled this one: it was stored before that read "
            "was sent, so the read saw what it reported."
        ),
    )
    attempts = models.PositiveIntegerField(_("attempts"), default=0)
    received_at = models.DateTimeField(_("received"), default=timezone.now, db_index=True)
    processed_at = models.DateTimeField(_("processed"), null=True, blank=True)
    next_attempt_at = models.DateTimeField(
        _("next attempt"),
        null=True,
        blank=True,
        db_index=True,
        help_text=_("When the reprocess sweep takes a failed event up again (the wait doubles after each failure)."),
    )
    examined_with = models.CharField(
        _("examined with version"),
        max_length=32,
        blank=True,
        help_text=_(
            "The django-orkestapay version that last read this event; an ignored event is examined again after an "
            "upgrade, which may know how to read it."
        ),
    )

    class Meta:
        verbose_name = _("webhook event")
        verbose_name_plural = _("webhook events")
        ordering = ["-received_at"]

    def __str__(self) -> str:
        return f"{self.event_type or 'event'} {self.message_id or self.claimed_message_id or self.pk}"


class RejectionKind(models.TextChoices):
    """Why a webhook delivery was refused."""

    SIGNATURE = "signature", _("Bad signature or timestamp")
    MALFORMED = "malformed", _("Malformed body")


class RejectedWebhookCount(models.Model):
    """How many webhook deliveries were refused, per day and kind. Only the newest rejected deliveries are kept as
    :class:`Event` rows (``REJECTED_WEBHOOKS_KEPT``); this count keeps every one."""

    day = models.DateField(_("day"))
    kind = models.CharField(_("kind"), max_length=16, choices=RejectionKind.choices)
    count = models.PositiveBigIntegerField(_("count"), default=0)
    last_received_at = models.DateTimeField(_("last received"), default=timezone.now)

    class Meta:
        verbose_name = _("rejected webhook count")
        verbose_name_plural = _("rejected webhook counts")
        ordering = ["-day", "kind"]
        constraints = [models.UniqueConstraint(fields=["day", "kind"], name="orkestapay_rejected_count_day_kind")]

    def __str__(self) -> str:
        return f"{self.day} {self.get_kind_display()}: {self.count}"
