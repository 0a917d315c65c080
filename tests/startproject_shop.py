"""A shop built the way README.rst tells a new user to build one: ``django-admin startproject``, then exactly the
*Install* steps (the app and its URLs, the SQLite ``OPTIONS`` block copied out of README.rst itself, an
``ORKESTAPAY`` dict pointing at the fake gateway), ``manage.py migrate`` on a SQLite file, served by gunicorn with
threads (two processes of eight threads: requests for the same order really run at once, in two processes).

The only addition is what every shop has: an app (``manage.py startapp shop``) with a cart that describes its own
payment (README's *Paying for your own models*) and an ``order_paid`` receiver that ships the order, here by
appending a line to ``shipped.log``. Used by tests/test_startproject.py.
"""

from __future__ import annotations

import json
import os
import re
import subprocess
import sys
import textwrap
import time
from collections.abc import Iterator
from contextlib import contextmanager
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import requests

from tests.example_shop import free_port, sqlite_rows, stop

ROOT = Path(__file__).resolve().parent.parent
START_TIMEOUT = 30.0

SHOP_APP = {
    "apps.py": """
        from django.apps import AppConfig


        class ShopConfig(AppConfig):
            name = "shop"

            def ready(self):
                from . import receivers  # noqa: F401
    """,
    "models.py": """
        from decimal import Decimal

        from django.db import models

        from django_orkestapay.adapters import PaymentDescription


        class Cart(models.Model):
            email = models.EmailField()

            def orkestapay_payment(self):
                item = {"product_id": "7197", "name": "Pantalla TCL 40", "quantity": 1, "unit_price": Decimal("990")}
                return PaymentDescription(
                    items=[item],
                    customer={"first_name": "Ana", "last_name": "López", "email": self.email},
                    merchant_order_id=f"CART-{self.pk}",
                )
    """,
    "receivers.py": """
        from django.conf import settings
        from django.dispatch import receiver

        from django_orkestapay.signals import order_paid


        @receiver(order_paid)
        def ship(sender, order, **kwargs):
            with open(settings.BASE_DIR / "shipped.log", "a", encoding="utf-8") as log:
                log.write(f"{order.pk.hex}\\n")
    """,
}

#: Creates orders and prints each one's id and signed pay reference (what the pay button posts) as JSON.
MAKE_ORDERS = """
import json, sys
from decimal import Decimal
from django_orkestapay import services
from django_orkestapay.signing import sign_pay_reference
made = []
for index in range({count}):
    order = services.create_order(
        items=[{{"product_id": "7197", "name": "Pantalla TCL 40", "quantity": 1, "unit_price": Decimal("1000")}}],
        customer={{"first_name": "Ana", "last_name": "López", "email": f"buyer{{index}}@example.com"}},
        discount_amount=Decimal("10"),
    )
    made.append({{"id": order.pk.hex, "field": "order", "reference": sign_pay_reference(order.pk)}})
sys.stdout.write(json.dumps(made))
"""
#: Creates carts and prints each one's id and signed reference (what ``{% orkestapay_button cart %}`` posts).
MAKE_CARTS = """
import json, sys
from django_orkestapay.adapters import sign_shop_object
from shop.models import Cart
made = []
for index in range({count}):
    cart = Cart.objects.create(email=f"cart{{index}}@example.com")
    made.append({{"id": str(cart.pk), "field": "object", "reference": sign_shop_object(cart)}})
sys.stdout.write(json.dumps(made))
"""


class ProjectFailed(RuntimeError):
    """A management command failed or the server did not start; the message carries the output."""


def readme_sqlite_block() -> str:
    """The ``DATABASES`` code block of README.rst's *Install* section, as written there."""
    readme = (ROOT / "README.rst").read_text(encoding="utf-8")
    blocks = re.findall(r"\.\. code-block:: python\n\n((?:   .*\n|\n)+)", readme)
    matches = [textwrap.dedent(block) for block in blocks if '"transaction_mode"' in block and "DATABASES" in block]
    assert len(matches) == 1, "README.rst should show one DATABASES block with the SQLite OPTIONS"
    return matches[0]


@dataclass(frozen=True)
class Order:
    """What a pay button pays for: an order (its id in hex) or a cart (its primary key), and the field and signed
    reference the button posts."""

    id: str
    field: str
    reference: str


@dataclass
class StartProject:
    """A built project: its folder, the command-line environment, and (once served) its URL."""

    directory: Path
    env: dict[str, str]
    url: str = ""

    @property
    def db(self) -> Path:
        return self.directory / "db.sqlite3"

    @property
    def log(self) -> Path:
        return self.directory / "server.log"

    def manage(self, *args: str) -> str:
        """Run ``manage.py`` with ``args``; its standard output (raises :class:`ProjectFailed` on failure)."""
        result = subprocess.run(
            [sys.executable, "manage.py", *args],
            cwd=self.directory,
            env=self.env,
            capture_output=True,
            text=True,
            timeout=120,
        )
        if result.returncode != 0:
            raise ProjectFailed(f"manage.py {' '.join(args)} failed:\n{result.stdout}\n{result.stderr}")
        return result.stdout

    def make_orders(self, count: int) -> list[Order]:
        """``count`` new orders (the guide's 990 MXN sample), created through ``manage.py shell``."""
        return self._made(MAKE_ORDERS.format(count=count))

    def make_carts(self, count: int) -> list[Order]:
        """``count`` new carts of the shop app, whose orders the pay view makes when their button is pressed."""
        return self._made(MAKE_CARTS.format(count=count))

    def _made(self, script: str) -> list[Order]:
        output = self.manage("shell", "-c", script)
        made = json.loads(output.strip().splitlines()[-1])  # Django 5.2+ may print a line about imports first
        return [Order(**entry) for entry in made]

    def query(self, sql: str, *params: object) -> list[tuple[Any, ...]]:
        """Rows of ``sql`` on the project's SQLite file (a fresh connection each time)."""
        return sqlite_rows(self.db, sql, *params)

    def status(self, order: Order) -> str:
        return str(self.query("select status from orkestapay_order where id = ?", order.id)[0][0])

    def shipped(self) -> list[str]:
        """The order ids the shop's ``order_paid`` receiver shipped, one per signal, in order."""
        path = self.directory / "shipped.log"
        return path.read_text(encoding="utf-8").split() if path.exists() else []

    def log_tail(self, lines: int = 60) -> str:
        try:
            return "\n".join(self.log.read_text(encoding="utf-8", errors="replace").splitlines()[-lines:])
        except OSError:
            return ""


def build(
    directory: Path,
    *,
    orkestapay: dict[str, Any],
    sqlite_options: bool = True,
    atomic_requests: bool = False,
    sqlite_timeout: int | None = None,
) -> StartProject:
    """``django-admin startproject mysite`` in ``directory`` plus README's install steps, migrated.

    ``sqlite_options=False`` leaves startproject's ``DATABASES`` as it is (no ``OPTIONS``: what ``orkestapay.W004``
    warns about); ``atomic_requests`` adds ``ATOMIC_REQUESTS = True``; ``sqlite_timeout`` replaces README's
    ``"timeout"`` (to see what a database that stays busy does without waiting 20 s).
    """
    env = {**os.environ, "PYTHONUNBUFFERED": "1", "NO_PROXY": "127.0.0.1,localhost"}
    env.pop("DJANGO_SETTINGS_MODULE", None)
    env["PYTHONPATH"] = os.pathsep.join(filter(None, [str(ROOT), env.get("PYTHONPATH", "")]))
    directory.mkdir(parents=True, exist_ok=True)
    subprocess.run(
        [sys.executable, "-m", "django", "startproject", "mysite", str(directory)], env=env, check=True, timeout=60
    )
    project = StartProject(directory=directory, env=env)
    project.manage("startapp", "shop")
    for name, source in SHOP_APP.items():
        (directory / "shop" / name).write_text(textwrap.dedent(source).lstrip(), encoding="utf-8")
    database = readme_sqlite_block() if sqlite_options else ""
    if sqlite_timeout is not None:
        database = database.replace('"timeout": 20', f'"timeout": {sqlite_timeout}')
    settings = directory / "mysite" / "settings.py"
    settings.write_text(
        settings.read_text(encoding="utf-8")
        + "\n\n# README.rst, Install\n"
        + 'INSTALLED_APPS += ["django_orkestapay", "shop"]\n\n'
        + database
        + ('\nDATABASES["default"]["ATOMIC_REQUESTS"] = True\n' if atomic_requests else "")
        + f"\nORKESTAPAY = {orkestapay!r}\n",
        encoding="utf-8",
    )
    urls = directory / "mysite" / "urls.py"
    urls.write_text(
        urls.read_text(encoding="utf-8")
        + "\nfrom django.urls import include  # noqa: E402\n\n"
        + 'urlpatterns += [path("orkestapay/", include("django_orkestapay.urls"))]\n',
        encoding="utf-8",
    )
    project.manage("makemigrations", "shop")
    project.manage("migrate", "--no-input")
    return project


@contextmanager
def served(project: StartProject) -> Iterator[StartProject]:
    """Serve ``project`` with gunicorn (2 processes, 8 threads each) on a free loopback port until exit."""
    port = free_port()
    command = [
        sys.executable,
        "-m",
        "gunicorn",
        "mysite.wsgi:application",
        "--bind",
        f"127.0.0.1:{port}",
        "--workers",
        "2",
        "--threads",
        "8",
        "--worker-class",
        "gthread",
        "--timeout",
        "60",
        "--graceful-timeout",
        "5",
        "--chdir",
        str(project.directory),
    ]
    with project.log.open("wb") as log:
        server = subprocess.Popen(command, cwd=project.directory, env=project.env, stdout=log, stderr=subprocess.STDOUT)
    project.url = f"http://127.0.0.1:{port}"
    try:
        _wait_until_up(project, server)
        yield project
    finally:
        stop(server)


def _wait_until_up(project: StartProject, server: subprocess.Popen[bytes]) -> None:
    deadline = time.monotonic() + START_TIMEOUT
    while True:
        try:
            if requests.get(f"{project.url}/admin/login/", timeout=5).status_code == 200:
                return
        except requests.ConnectionError:
            pass
        if server.poll() is not None or time.monotonic() > deadline:
            raise ProjectFailed(f"gunicorn did not serve the project:\n{project.log_tail()}")
        time.sleep(0.1)


class Browser:
    """A buyer's browser on the project: a CSRF cookie and token (from the admin's login form, the one page every
    startproject has), the pay button's POST, and the return pages."""

    def __init__(self, project: StartProject) -> None:
        self.project = project
        page = requests.get(f"{project.url}/admin/login/", timeout=10)
        match = re.search(r'name="csrfmiddlewaretoken" value="([^"]+)"', page.text)
        assert match, "no CSRF token on the admin's login page"
        self.csrf_token = match.group(1)
        self.cookies = {"csrftoken": page.cookies["csrftoken"]}

    def pay(self, order: Order) -> requests.Response:
        """Press the pay button (POST, not followed). Safe from several threads at once, like a double click."""
        return requests.post(
            f"{self.project.url}/orkestapay/pay/",
            data={order.field: order.reference, "csrfmiddlewaretoken": self.csrf_token},
            cookies=self.cookies,
            allow_redirects=False,
            timeout=60,
        )

    def get(self, url: str) -> requests.Response:
        """A page (a return URL), not followed."""
        return requests.get(url, cookies=self.cookies, allow_redirects=False, timeout=60)
