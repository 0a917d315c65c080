"""``manage.py orkestapay_schedule``: the periodic sweeps, for shops without cron (or Celery beat)."""

from __future__ import annotations

import signal
import threading
from typing import Any

from django.core.management.base import BaseCommand, CommandParser

from ... import tasks


class Command(BaseCommand):
    help = (
        "Enqueue the periodic sweeps (reprocess events, expire checkouts, reconcile refunds, sync orders) as "
        "ORKESTAPAY['SCHEDULE'] says, until stopped. A task worker runs them; under the ImmediateBackend they run "
        "here. Run one per site."
    )

    def add_arguments(self, parser: CommandParser) -> None:
        parser.add_argument("--once", action="store_true", help="Enqueue every scheduled sweep once, then exit.")

    def handle(self, *args: Any, **options: Any) -> None:
        plan = ", ".join(f"{name} every {seconds:g} s" for name, seconds in tasks.schedule().items())
        self.stdout.write(f"Schedule: {plan or 'nothing, every sweep is turned off'}.")
        scheduler = tasks.Scheduler()
        stop = threading.Event()
        if not options["once"]:
            for signum in (signal.SIGINT, signal.SIGTERM):
                signal.signal(signum, lambda _signum, _frame: stop.set())
        while not stop.is_set():
            for name in scheduler.tick():
                result = scheduler.last[name]
                done = f": {result.return_value}" if result.is_finished and not result.errors else ""
                self.stdout.write(f"{name}: {result.status.lower()}{done}")
            if options["once"]:
                return
            stop.wait(max(1.0, scheduler.next_due()))
