"""A shop built the way the documentation's quickstart (docs/quickstart.rst) tells a new user to build one, from the
page itself: ``django-admin startproject mysite`` and ``startapp shop``, then every file the page shows (its
``example-file`` blocks and captioned templates, written to the paths their captions name), its settings blocks
appended to startproject's settings (the SQLite ``OPTIONS`` included), the environment its ``export`` lines set
(with the fake gateway's real address), ``makemigrations`` and ``migrate`` on a SQLite file; served by gunicorn with
threads (two processes of eight threads: requests for the same order really run at once, in two processes).

The only addition is instrumentation: a second ``order_paid`` receiver, appended to the page's ``shop/receivers.py``,
that writes one line per signal to ``shipped.log`` (the page's own receiver ships idempotently, so it cannot count
signals). Used by tests/test_startproject.py.
"""

from __future__ import annotations

import json
import os
import re
import shlex
import subprocess
import sys
import time
from collections.abc import Iterator
from contextlib import contextmanager
from dataclasses import dataclass
from pathlib import Path
from typing import Any
from urllib.parse import urljoin

import requests

from tests.doc_examples import DOCS, ROOT, Block, blocks_of
from tests.example_shop import free_port, sqlite_rows, stop

QUICKSTART = DOCS / "quickstart.rst"
START_TIMEOUT = 30.0
#: Where the quickstart's commands expect the fake gateway.
DOCUMENTED_GATEWAY = "http://127.0.0.1:8765"
SETTINGS_FILE = "mysite/settings.py"

#: Appended to the quickstart's shop/receivers.py: one line per ``order_paid``, to count the signals.
SIGNAL_LOG = """

# tests/startproject_shop.py: one line per order_paid signal, so the tests can count them.
from django.conf import settings  # noqa: E402


@receiver(order_paid)
def _log_order_paid(sender, order, **kwargs):
    with open(settings.BASE_DIR / "shipped.log", "a", encoding="utf-8") as log:
        log.write(f"{order.pk.hex}\\n")
"""

#: Creates orders and prints each one's id and the field and signed reference its pay button posts, as JSON.
MAKE_ORDERS = """
import json, sys
from decimal import Decimal
from django_orkestapay import services
from django_orkestapay.adapters import pay_fields
made = []
for index in range({count}):
    order = services.create_order(
        items=[{{"product_id": "7197", "name": "Pantalla TCL 40", "quantity": 1, "unit_price": Decimal("1000")}}],
        customer={{"first_name": "Ana", "last_name": "López", "email": f"buyer{{index}}@example.com"}},
        discount_amount=Decimal("10"),
    )
    (field, reference), = pay_fields(order).items()
    made.append({{"id": order.pk.hex, "field": field, "reference": reference}})
sys.stdout.write(json.dumps(made))
"""
#: Creates the quickstart's carts and prints each one's id and signed reference (what ``{% orkestapay_button cart
#: %}`` posts).
MAKE_CARTS = """
import json, sys
from django_orkestapay.adapters import pay_fields
from shop.models import Cart
made = []
for index in range({count}):
    cart = Cart.objects.create(first_name="Ana", last_name="López", email=f"cart{{index}}@example.com")
    (field, reference), = pay_fields(cart).items()
    made.append({{"id": str(cart.pk), "field": field, "reference": reference}})
sys.stdout.write(json.dumps(made))
"""


def quickstart_files() -> dict[str, str]:
    """The files the quickstart shows whole, by path: its ``example-file`` blocks and its captioned templates and
    configuration files (``shop/templates/shop/cart.html``, ``pytest.ini``)."""
    files = {}
    for block in blocks_of(QUICKSTART):
        whole = block.kind == "example-file" or (block.language != "python" and block.caption)
        if whole and re.fullmatch(r"[\w./-]+", block.caption):
            files[block.caption] = block.code
    return files


def quickstart_settings(*, sqlite_options: bool = True) -> list[Block]:
    """The quickstart's settings blocks for ``mysite/settings.py``, in page order (without the SQLite ``OPTIONS``
    block when ``sqlite_options`` is false)."""
    blocks = [b for b in blocks_of(QUICKSTART) if b.kind == "example-settings" and b.caption == SETTINGS_FILE]
    return [b for b in blocks if sqlite_options or '"transaction_mode"' not in b.code]


def quickstart_sqlite_block() -> str:
    """The quickstart's ``DATABASES`` block with the SQLite ``OPTIONS``, as written there."""
    matches = [b.code for b in quickstart_settings() if '"transaction_mode"' in b.code and "DATABASES" in b.code]
    assert len(matches) == 1, "the quickstart should show one DATABASES block with the SQLite OPTIONS"
    return matches[0]


def quickstart_environment(gateway_url: str) -> dict[str, str]:
    """What the quickstart's ``export`` lines set, with the fake gateway's real address for the documented one."""
    variables = {}
    for block in blocks_of(QUICKSTART):
        if block.language != "sh":
            continue
        for line in block.code.splitlines():
            if line.startswith("export "):
                for word in shlex.split(line)[1:]:
                    name, _, value = word.partition("=")
                    variables[name] = value.replace(DOCUMENTED_GATEWAY, gateway_url)
    assert {"ORKESTAPAY_CLIENT_ID", "ORKESTAPAY_BASE_URL", "ORKESTAPAY_WEBHOOK_SECRETS"} <= set(variables)
    return variables


class ProjectFailed(RuntimeError):
    """A management command failed or the server did not start; the message carries the output."""


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
    def webhook_secret(self) -> str:
        """The secret the quickstart's environment gives the webhook endpoint (its first)."""
        return self.env["ORKESTAPAY_WEBHOOK_SECRETS"].split()[0]

    @property
    def db(self) -> Path:
        return self.directory / "db.sqlite3"

    @property
    def log(self) -> Path:
        return self.directory / "server.log"

    def manage(self, *args: str, env: dict[str, str] | None = None) -> str:
        """Run ``manage.py`` with ``args`` (in ``env``, else the project's environment); its standard output (raises
        :class:`ProjectFailed` on failure)."""
        result = subprocess.run(
            [sys.executable, "manage.py", *args],
            cwd=self.directory,
            env=self.env if env is None else env,
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
        """The order ids ``order_paid`` was sent for, one line per signal, in order."""
        path = self.directory / "shipped.log"
        return path.read_text(encoding="utf-8").split() if path.exists() else []

    def run_tests(self) -> subprocess.CompletedProcess[str]:
        """``python -m pytest`` in the project, with the ``pytest.ini``, ``conftest.py`` and tests of the quickstart."""
        return subprocess.run(
            [sys.executable, "-m", "pytest", "-q", "-p", "no:cacheprovider"],
            cwd=self.directory,
            env=self.env,
            capture_output=True,
            text=True,
            timeout=300,
        )

    def log_tail(self, lines: int = 60) -> str:
        try:
            return "\n".join(self.log.read_text(encoding="utf-8", errors="replace").splitlines()[-lines:])
        except OSError:
            return ""


def background_worker_settings() -> str:
    """The database task backend as docs/background.rst sets it up (its ``TASKS``; its ``INSTALLED_APPS`` line
    lists the apps with ``...`` for the others, so the one it adds is inserted instead): webhooks are queued for
    ``manage.py db_worker``, which no test runs."""
    (block,) = [b for b in blocks_of(DOCS / "background.rst") if "django_tasks_db.DatabaseBackend" in b.code]
    (tasks,) = [line for line in block.code.splitlines() if line.startswith("TASKS = ")]
    assert '"django_tasks_db"' in block.code
    return f'INSTALLED_APPS.insert(INSTALLED_APPS.index("django_orkestapay"), "django_tasks_db")\n{tasks}\n'


def build(
    directory: Path,
    *,
    gateway_url: str,
    sqlite_options: bool = True,
    atomic_requests: bool = False,
    sqlite_timeout: int | None = None,
    extra_settings: str = "",
) -> StartProject:
    """``django-admin startproject mysite`` in ``directory``, then the quickstart's steps, migrated; the environment
    of its ``export`` lines, pointed at the fake gateway at ``gateway_url``.

    ``sqlite_options=False`` leaves out the quickstart's SQLite ``OPTIONS`` block (startproject's ``DATABASES`` stays:
    what ``orkestapay.W004`` warns about); ``atomic_requests`` adds ``ATOMIC_REQUESTS = True``; ``sqlite_timeout``
    replaces the quickstart's ``"timeout"`` (to see what a database that stays busy does without waiting 20 s);
    ``extra_settings`` is appended to the settings last (e.g. :func:`background_worker_settings`).
    """
    env = {**os.environ, "PYTHONUNBUFFERED": "1", "NO_PROXY": "127.0.0.1,localhost"}
    env.pop("DJANGO_SETTINGS_MODULE", None)
    env["PYTHONPATH"] = os.pathsep.join(filter(None, [str(ROOT), env.get("PYTHONPATH", "")]))
    exported = quickstart_environment(gateway_url)
    env.update(exported)
    directory.mkdir(parents=True, exist_ok=True)
    subprocess.run(
        [sys.executable, "-m", "django", "startproject", "mysite", str(directory)], env=env, check=True, timeout=60
    )
    project = StartProject(directory=directory, env=env)
    project.manage("startapp", "shop")
    for name, source in quickstart_files().items():
        path = directory / name
        path.parent.mkdir(parents=True, exist_ok=True)
        path.write_text(source + (SIGNAL_LOG if name == "shop/receivers.py" else ""), encoding="utf-8")
    database = "\n".join(block.code for block in quickstart_settings(sqlite_options=sqlite_options))
    if sqlite_timeout is not None:
        assert '"timeout": 20' in database
        database = database.replace('"timeout": 20', f'"timeout": {sqlite_timeout}')
    settings = directory / SETTINGS_FILE
    settings.write_text(
        settings.read_text(encoding="utf-8")
        + "\n\n# docs/quickstart.rst\n"
        + database
        + ('\nDATABASES["default"]["ATOMIC_REQUESTS"] = True\n' if atomic_requests else "")
        + (f"\n{extra_settings}" if extra_settings else ""),
        encoding="utf-8",
    )
    # As the quickstart orders it: its `makemigrations` and `migrate` come before the `export` lines, so they run
    # without credentials (a CI or image build has none either).
    without_exports = {name: value for name, value in env.items() if name not in exported}
    project.manage("makemigrations", "shop", env=without_exports)
    project.manage("migrate", "--no-input", env=without_exports)
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
        except (requests.ConnectionError, requests.Timeout):  # not listening yet, or slow to answer on a busy machine
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

    def press_button(self, page_url: str) -> requests.Response:
        """Open a page of the shop and press the pay button on it, its form as rendered (POST, not followed)."""
        page = requests.get(page_url, cookies=self.cookies, timeout=30)
        form = re.search(r'<form method="post" action="([^"]+)"[^>]*>(.*?)</form>', page.text, re.DOTALL)
        assert page.status_code == 200, page.text[:2000]
        assert form is not None, page.text[:2000]
        fields = dict(re.findall(r'<input type="hidden" name="([^"]+)" value="([^"]*)">', form[2]))
        return requests.post(
            urljoin(page_url, form[1]), data=fields, cookies=self.cookies, allow_redirects=False, timeout=60
        )

    def get(self, url: str) -> requests.Response:
        """A page (a return URL), not followed."""
        return requests.get(url, cookies=self.cookies, allow_redirects=False, timeout=60)
