"""Start the example shop as ``scripts/demo`` runs it (``manage.py rundemo`` with the embedded fake gateway) on free
loopback ports, with its own SQLite file; and read that file back. Shared by the HTTP walk-through
(tests/test_example_project.py) and the browser journeys (tests/browser/)."""

from __future__ import annotations

import os
import re
import socket
import sqlite3
import subprocess
import sys
import time
from collections.abc import Callable, Iterator
from contextlib import contextmanager
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import requests

EXAMPLE = Path(__file__).resolve().parent.parent / "example_project"
START_TIMEOUT = 30.0


class ShopDidNotStart(RuntimeError):
    """The example shop exited or did not answer in time; the message carries its output."""


def free_port() -> int:
    """A TCP port on 127.0.0.1 that nothing listens on right now."""
    with socket.socket() as sock:
        sock.bind(("127.0.0.1", 0))
        return int(sock.getsockname()[1])


def shop_environment(db: Path, fake_port: int) -> dict[str, str]:
    """The environment ``manage.py`` runs with: this SQLite file, the embedded fake on ``fake_port``, ``DEBUG`` off
    (as the demo ships: the shop's own error pages; ``rundemo`` serves the static files itself)."""
    env = {
        **os.environ,
        "DATABASE_URL": f"sqlite:///{db}",
        "FAKE_GATEWAY_PORT": str(fake_port),
        "ORKESTAPAY_CLIENT_ID": "",
        "DEBUG": "off",
        "PYTHONUNBUFFERED": "1",
    }
    env.pop("DJANGO_SETTINGS_MODULE", None)
    return env


def sqlite_rows(db: Path, sql: str, *params: object) -> list[tuple[Any, ...]]:
    """Rows of ``sql`` run on a SQLite file, through a fresh connection that waits for a writer up to 20 seconds."""
    connection = sqlite3.connect(str(db), timeout=20)
    try:
        return list(connection.execute(sql, params).fetchall())
    finally:
        connection.close()


def manage(env: dict[str, str], *args: str) -> subprocess.CompletedProcess[str]:
    """Run ``example_project/manage.py`` with ``args`` and wait for it."""
    return subprocess.run(
        [sys.executable, "manage.py", *args], cwd=EXAMPLE, env=env, capture_output=True, text=True, timeout=120
    )


@dataclass(frozen=True)
class ExampleShop:
    """A running example shop: its URL, its fake gateway's URL, its SQLite file and its server log."""

    base: str
    fake: str
    db: Path
    log: Path

    def log_tail(self, lines: int = 40) -> str:
        """The last ``lines`` lines the shop's server printed (requests, errors, tracebacks)."""
        try:
            text = self.log.read_text(encoding="utf-8", errors="replace")
        except OSError:
            return ""
        return "\n".join(text.splitlines()[-lines:])

    def query(self, sql: str, *params: object) -> list[tuple[object, ...]]:
        """Rows of ``sql`` run on the shop's SQLite file (a fresh connection each time)."""
        return sqlite_rows(self.db, sql, *params)

    def order_status(self, order_id: str) -> str:
        """The ``status`` column of one ``orkestapay_order`` row (``order_id`` is the UUID, dashed or not)."""
        rows = self.query("select status from orkestapay_order where id = ?", order_id.replace("-", ""))
        assert rows, f"no order {order_id} in the shop's database"
        return str(rows[0][0])

    def order_events(self, order_id: str) -> list[tuple[str, str, int]]:
        """``(type, status, verified)`` of every webhook event stored for an order, oldest first."""
        rows = self.query(
            "select event_type, status, verified from orkestapay_event where order_id = ? order by id",
            order_id.replace("-", ""),
        )
        return [(str(event_type), str(status), int(str(verified))) for event_type, status, verified in rows]

    def wait_for_events(self, order_id: str, count: int, timeout: float = 30.0) -> list[tuple[str, str, int]]:
        """The order's webhook events once at least ``count`` are stored and none is still being handled.

        The fake delivers webhooks from its own thread, after the buyer's redirect; this waits for them (up to
        ``timeout`` seconds) and returns what is there, so the caller's assertion says what was missing.
        """
        deadline = time.monotonic() + timeout
        events = self.order_events(order_id)
        while time.monotonic() < deadline:
            events = self.order_events(order_id)
            if len(events) >= count and all(status != "received" for _, status, _ in events):
                break
            time.sleep(0.1)
        return events

    def wait_for_query(
        self, sql: str, *params: object, until: Callable[[list[tuple[object, ...]]], bool], timeout: float = 30.0
    ) -> list[tuple[object, ...]]:
        """The rows ``sql`` selects once ``until(rows)`` holds (polled up to ``timeout`` seconds), else the last rows.

        A task worker commits its task's effects before it records the task's own result, so a test that saw the
        effect waits here for the result instead of reading it once."""
        deadline = time.monotonic() + timeout
        rows = self.query(sql, *params)
        while not until(rows) and time.monotonic() < deadline:
            time.sleep(0.1)
            rows = self.query(sql, *params)
        return rows


@contextmanager
def running_shop(directory: Path) -> Iterator[ExampleShop]:
    """Migrate a fresh SQLite database in ``directory``, load the demo data and serve the shop until exit.

    Raises :class:`ShopDidNotStart` with the server's output when it exits or does not answer within 30 seconds.
    """
    db = directory / "db.sqlite3"
    log = directory / "server.log"
    shop_port, fake_port = free_port(), free_port()
    env = shop_environment(db, fake_port)
    for command in (("migrate", "--no-input"), ("demo_setup",)):
        result = manage(env, *command)
        if result.returncode != 0:
            raise ShopDidNotStart(f"manage.py {' '.join(command)} failed:\n{result.stdout}\n{result.stderr}")
    shop = ExampleShop(base=f"http://127.0.0.1:{shop_port}", fake=f"http://127.0.0.1:{fake_port}", db=db, log=log)
    with log.open("w", encoding="utf-8") as log_file:
        server = subprocess.Popen(
            [sys.executable, "manage.py", "rundemo", f"127.0.0.1:{shop_port}"],
            cwd=EXAMPLE,
            env=env,
            stdout=log_file,
            stderr=subprocess.STDOUT,
            text=True,
        )
        try:
            _wait_until_up(shop, server)
            yield shop
        finally:
            stop(server)


def stop(server: subprocess.Popen[Any]) -> None:
    """Ask a server process to stop (SIGTERM), and kill it if it has not within 10 seconds."""
    server.terminate()
    try:
        server.wait(timeout=10)
    except subprocess.TimeoutExpired:
        server.kill()
        server.wait(timeout=10)


def _wait_until_up(shop: ExampleShop, server: subprocess.Popen[str]) -> None:
    deadline = time.monotonic() + START_TIMEOUT
    while True:
        try:
            requests.get(f"{shop.base}/", timeout=1)
            requests.get(f"{shop.fake}/favicon.ico", timeout=1)
            return
        except requests.ConnectionError as exc:
            if server.poll() is not None or time.monotonic() > deadline:
                server.kill()
                server.wait(timeout=10)
                raise ShopDidNotStart(f"the demo shop did not start ({exc}):\n{shop.log_tail(80)}") from exc
            time.sleep(0.2)


def csrf_token(html: str) -> str:
    """The CSRF token of the first form in a page."""
    match = re.search(r'name="csrfmiddlewaretoken" value="([^"]+)"', html)
    assert match, "no CSRF token in the page"
    return match.group(1)
