"""``manage.py orkestapay_expire_checkouts``: close checkouts past their expiry."""

from __future__ import annotations

from typing import Any

from django.core.management.base import BaseCommand, CommandError

from ... import services


class Command(BaseCommand):
    help = "Confirm open checkouts past expires_at with OrkestaPay, then mark them (and idle orders) expired."

    def handle(self, *args: Any, **options: Any) -> None:
        summary = services.expire_checkouts()
        self.stdout.write(
            f"Checked {summary.succeeded + summary.failed} expired checkout(s): "
            f"{summary.changed} order(s) changed, {summary.failed} failed."
        )
        if summary.failed:
            raise CommandError(f"{summary.failed} checkout(s) could not be confirmed with OrkestaPay.")
