"""``manage.py orkestapay_reprocess_events``: process failed webhook events again."""

from __future__ import annotations

from typing import Any

from django.core.management.base import BaseCommand, CommandError, CommandParser

from ... import services
from ...models import Event, EventStatus


class Command(BaseCommand):
    help = "Process failed webhook events again (or the given ones). Exits non-zero when any still fails."

    def add_arguments(self, parser: CommandParser) -> None:
        parser.add_argument("--event", action="append", type=int, default=[], help="An event id (repeatable).")

    def handle(self, *args: Any, **options: Any) -> None:
        events = Event.objects.filter(status__in=[EventStatus.FAILED, EventStatus.RECEIVED], verified=True)
        if options["event"]:
            events = events.filter(pk__in=options["event"])
        summary = services.reprocess_events(events.order_by("received_at"))
        self.stdout.write(
            f"Reprocessed {summary.succeeded + summary.failed} event(s): "
            f"{summary.succeeded} succeeded, {summary.failed} failed."
        )
        if summary.failed:
            raise CommandError(f"{summary.failed} event(s) failed again; see their error in the admin.")
