"""Shared helpers for the benchmarks: Django set-up, orders, a gunicorn server on loopback, statistics, tables.

Nothing here imports Django at module level: :func:`setup_django` must run first (the driver does it once it knows
the fake gateway's port), and gunicorn's workers read the same environment.
"""

from __future__ import annotations

import math
import os
import signal
import socket
import statistics
import subprocess
import sys
import tempfile
import time
import uuid
from collections.abc import Mapping, Sequence
from decimal import Decimal
from pathlib import Path
from types import TracebackType
from typing import TYPE_CHECKING, Any, Self

import requests

if TYPE_CHECKING:
    from django_orkestapay.models import Checkout, Order

ROOT = Path(__file__).resolve().parent.parent
LOOPBACK = "127.0.0.1"
SHOP_BASE = "http://127.0.0.1:8000"  # return URLs of checkouts started outside a request (never visited)


# --------------------------------------------------------------------------------------------------------- Django


def setup_django(*, database_url: str, gateway_url: str, webhook_secret: str) -> None:
    """Configure Django with ``bench.settings`` for this process (and, through the environment, for gunicorn)."""
    os.environ["DJANGO_SETTINGS_MODULE"] = "bench.settings"
    os.environ["BENCH_DATABASE_URL"] = database_url
    os.environ["BENCH_GATEWAY_URL"] = gateway_url
    os.environ["BENCH_WEBHOOK_SECRET"] = webhook_secret
    os.environ.setdefault("NO_PROXY", "127.0.0.1,localhost")
    import django

    django.setup()


def migrate() -> None:
    """Create the bench database's tables."""
    from django.core.management import call_command

    call_command("migrate", verbosity=0, interactive=False)


def flush_database() -> None:
    """Empty every table (orders, checkouts, events, users, sessions)."""
    from django.core.management import call_command

    call_command("flush", verbosity=0, interactive=False)


def make_order(index: int = 0) -> Order:
    """The OrkestaPay guide's sample order (1000 MXN, 10 off, 990 total), one per index."""
    from django_orkestapay import services

    return services.create_order(
        items=[{"product_id": "7197", "name": "Pantalla TCL 40", "quantity": 1, "unit_price": Decimal("1000")}],
        customer={"first_name": "John", "last_name": "Doe", "email": f"buyer{index}@example.com"},
        discount_amount=Decimal("10"),
    )


def pay_form(order_id: uuid.UUID | str) -> dict[str, str]:
    """What the pay button posts for an order (besides the CSRF token): its signed reference."""
    from django_orkestapay.signing import PAY_FIELD, sign_pay_reference

    return {PAY_FIELD: sign_pay_reference(uuid.UUID(str(order_id)))}


def gateway_checkout_id(checkout: Checkout) -> str:
    """The OrkestaPay checkout id of a registered checkout."""
    if not checkout.orkestapay_checkout_id:
        raise RuntimeError(f"checkout {checkout.pk} was never registered with the gateway")
    return checkout.orkestapay_checkout_id


def shop_uri(path: str) -> str:
    """``build_absolute_uri`` for checkouts started outside a request."""
    return f"{SHOP_BASE}{path}"


# ------------------------------------------------------------------------------------------------------- gunicorn


def free_port() -> int:
    """A free TCP port on loopback."""
    with socket.socket() as probe:
        probe.bind((LOOPBACK, 0))
        return int(probe.getsockname()[1])


class Gunicorn:
    """``gunicorn bench.wsgi:application`` on loopback with ``workers`` sync workers, as a context manager.

    The workers inherit this process's environment (settings module, database, gateway URL, webhook secret), with
    ``env`` on top.
    """

    def __init__(
        self,
        *,
        workers: int = 2,
        port: int | None = None,
        log_path: Path | None = None,
        env: Mapping[str, str] | None = None,
    ) -> None:
        self.workers = workers
        self.env = {**os.environ, **(env or {})}
        self.port = port or free_port()
        self.log_path = log_path or Path(tempfile.gettempdir()) / f"orkestapay-bench-gunicorn-{self.port}.log"
        self._process: subprocess.Popen[bytes] | None = None

    @property
    def url(self) -> str:
        return f"http://{LOOPBACK}:{self.port}"

    def __enter__(self) -> Self:
        command = [
            sys.executable,
            "-m",
            "gunicorn",
            "bench.wsgi:application",
            "--bind",
            f"{LOOPBACK}:{self.port}",
            "--workers",
            str(self.workers),
            "--worker-class",
            "sync",
            "--timeout",
            "60",
            "--graceful-timeout",
            "5",
            "--log-level",
            "warning",
            "--chdir",
            str(ROOT),
        ]
        with self.log_path.open("wb") as log:
            self._process = subprocess.Popen(  # noqa: S603
                command, cwd=ROOT, env=self.env, stdout=log, stderr=subprocess.STDOUT
            )
        try:
            self._wait_ready()
        except BaseException:
            self.__exit__(None, None, None)
            raise
        return self

    def _wait_ready(self, timeout: float = 30.0) -> None:
        deadline = time.monotonic() + timeout
        while time.monotonic() < deadline:
            if self._process is not None and self._process.poll() is not None:
                raise RuntimeError(f"gunicorn exited with {self._process.returncode}; see {self.log_path}")
            try:
                if requests.get(f"{self.url}/bench/csrf/", timeout=10).status_code == 200:
                    return
            except requests.RequestException:
                pass
            time.sleep(0.1)
        raise RuntimeError(f"gunicorn did not answer within {timeout} s; see {self.log_path}")

    def __exit__(
        self, exc_type: type[BaseException] | None, exc: BaseException | None, traceback: TracebackType | None
    ) -> None:
        process, self._process = self._process, None
        if process is None:
            return
        process.send_signal(signal.SIGTERM)
        try:
            process.wait(timeout=15)
        except subprocess.TimeoutExpired:
            process.kill()
            process.wait(timeout=5)


class PayButton:
    """What a shop page with the pay button gives a browser (a CSRF cookie and token), and the click on it."""

    def __init__(self, server_url: str) -> None:
        self.server_url = server_url
        page = requests.get(f"{server_url}/bench/csrf/", timeout=10)
        page.raise_for_status()
        self.csrf_token = page.text
        self.csrf_cookie = page.cookies["csrftoken"]

    def post(self, order: Order) -> requests.Response:
        """``POST /orkestapay/pay/`` for ``order``, as the button's form does; the answer, not followed."""
        return requests.post(
            f"{self.server_url}/orkestapay/pay/",
            data={**pay_form(order.pk), "csrfmiddlewaretoken": self.csrf_token},
            cookies={"csrftoken": self.csrf_cookie},
            allow_redirects=False,
            timeout=60,
        )

    def pay(self, order: Order) -> None:
        """Click and insist on the 302 to the hosted page."""
        response = self.post(order)
        if response.status_code != 302:
            raise RuntimeError(f"pay answered {response.status_code}: {response.text[:300]}")


# ----------------------------------------------------------------------------------------------------- statistics


def median(values: Sequence[float]) -> float:
    """The median (NaN for no values)."""
    return statistics.median(values) if values else math.nan


def percentile(values: Sequence[float], fraction: float) -> float:
    """The nearest-rank percentile, e.g. ``fraction=0.99`` (NaN for no values)."""
    if not values:
        return math.nan
    ordered = sorted(values)
    rank = max(1, math.ceil(fraction * len(ordered)))
    return ordered[rank - 1]


def spread(values: Sequence[float], fmt: str = "{:.2f}") -> str:
    """``median [min-max]`` of per-run figures."""
    if not values:
        return "n/a"
    return f"{fmt.format(median(values))} [{fmt.format(min(values))}-{fmt.format(max(values))}]"


def timed_ms(call: Any, *args: Any, **kwargs: Any) -> tuple[float, Any]:
    """Run ``call`` and return (wall milliseconds, result)."""
    started = time.perf_counter()
    result = call(*args, **kwargs)
    return (time.perf_counter() - started) * 1000, result


# --------------------------------------------------------------------------------------------------------- tables


def table(title: str, headers: Sequence[str], rows: Sequence[Sequence[object]]) -> str:
    """A plain-text table with a title, columns padded to their widest cell."""
    cells = [[str(h) for h in headers]] + [[str(c) for c in row] for row in rows]
    widths = [max(len(row[i]) for row in cells) for i in range(len(headers))]

    def line(row: Sequence[str]) -> str:
        return "  ".join(cell.ljust(width) for cell, width in zip(row, widths, strict=True)).rstrip()

    rule = "  ".join("-" * width for width in widths)
    body = [line(cells[0]), rule, *(line(row) for row in cells[1:])]
    return "\n".join([title, "=" * len(title), *body, ""])
