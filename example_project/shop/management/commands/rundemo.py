"""Run the example shop with a task worker beside it; without OrkestaPay credentials, embed the fake gateway on
loopback first."""

import signal
import subprocess
import sys
import threading
from typing import Any

from django.conf import settings
from django.core.management import call_command
from django.core.management.base import BaseCommand, CommandError, CommandParser
from django.urls import NoReverseMatch, reverse

from django_orkestapay import tasks
from django_orkestapay.testing import FakeOrkestaPay


class Command(BaseCommand):
    help = (
        "Start the demo shop, a task worker (manage.py db_worker) and the periodic sweeps, and the embedded fake "
        "OrkestaPay gateway when no credentials are configured."
    )

    def add_arguments(self, parser: CommandParser) -> None:
        parser.add_argument("addrport", nargs="?", default="127.0.0.1:8000")

    def handle(self, *args: Any, **options: Any) -> None:
        addrport = options["addrport"]
        fake = None
        if settings.USE_FAKE_GATEWAY:
            # The rich profile: the demo shows every state the fake can (CANCELED, EXPIRED, REFUNDED...).
            fake = FakeOrkestaPay(host="127.0.0.1", port=settings.FAKE_GATEWAY_PORT, profile="rich")
            try:
                fake.start()
            except OSError as exc:
                raise CommandError(
                    f"The fake gateway cannot listen on 127.0.0.1:{settings.FAKE_GATEWAY_PORT} ({exc.strerror}): "
                    "stop what uses that port, or set FAKE_GATEWAY_PORT to a free one."
                ) from exc
            shop_url = f"http://{addrport}"
            secrets = settings.ORKESTAPAY.get("WEBHOOK_SECRETS") or []
            webhook_path = _webhook_path()
            if webhook_path:
                fake.add_webhook_endpoint(f"{shop_url}{webhook_path}", secret=secrets[0] if secrets else None)
            self.stdout.write(self.style.SUCCESS(f"Fake OrkestaPay gateway on {fake.base_url} (no real money)."))
        else:
            self.stdout.write(f"Using OrkestaPay {settings.ORKESTAPAY.get('ENVIRONMENT', 'sandbox')}.")
        self.stdout.write(self.style.SUCCESS(f"Shop: http://{addrport}/   Admin: http://{addrport}/admin/"))
        # Stopped with SIGTERM (as the tests do), still stop the worker and the gateway on the way out.
        signal.signal(signal.SIGTERM, lambda _signum, _frame: sys.exit(0))
        manage_py = str(settings.BASE_DIR / "manage.py")
        worker = subprocess.Popen([sys.executable, manage_py, "db_worker", "--interval", "0.2"])  # noqa: S603
        self.stdout.write(self.style.SUCCESS(f"Task worker started (manage.py db_worker, pid {worker.pid})."))
        stop = threading.Event()
        threading.Thread(target=_run_schedule, args=(stop,), name="orkestapay-schedule", daemon=True).start()
        try:
            # insecure_serving: the static files too, with DEBUG off (the development server's --insecure).
            call_command("runserver", addrport, use_reloader=False, insecure_serving=True)
        finally:
            stop.set()
            worker.terminate()
            worker.wait(timeout=10)
            if fake is not None:
                fake.stop()


def _run_schedule(stop: threading.Event) -> None:
    """The periodic sweeps (what manage.py orkestapay_schedule does), enqueued for the worker."""
    scheduler = tasks.Scheduler()
    while not stop.is_set():
        scheduler.tick()
        stop.wait(max(1.0, scheduler.next_due()))


def _webhook_path() -> str | None:
    try:
        return reverse("orkestapay:webhook")
    except NoReverseMatch:
        return None
