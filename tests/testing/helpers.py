"""Helpers for the fake gateway's own tests: a settable clock, an API client, a webhook receiver."""

from __future__ import annotations

import copy
import json
import threading
import time
from dataclasses import dataclass, field
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from typing import Any

import pytest
import requests

from django_orkestapay.testing import PROFILES, FakeOrkestaPay, hosted_page_url

SEED_BODY: dict[str, Any] = {
    "completed_redirect_url": "https://shop.example/complete?orkesta=completed&ref=abc%20def",
    "canceled_redirect_url": "https://shop.example/cancel?orkesta=canceled",
    "allow_save_payment_methods": False,
    "locale": "ES_LATAM",
    "order": {
        "merchant_order_id": "1366656595193",
        "currency": "MXN",
        "subtotal_amount": 1000,
        "country_code": "MX",
        "discounts": [{"amount": 10}],
        "total_amount": 990,
        "products": [
            {
                "id": "7197",
                "name": "Pantalla TCL Smart TV Serie A3 A343 HD Android TV 40",
                "quantity": 1,
                "unit_price": 1000,
            }
        ],
        "customer": {"first_name": "John", "last_name": "Doe", "email": "john.doe@example.com"},
    },
}


def seed_body(**order_changes: Any) -> dict[str, Any]:
    """A fresh copy of the guide's sample checkout request, with ``order`` fields overridden."""
    body = copy.deepcopy(SEED_BODY)
    body["order"].update(order_changes)
    return body


class FakeClock:
    """A clock tests can move: ``clock()`` returns ``now``."""

    def __init__(self, now: float = 1_800_000_000.0) -> None:
        self.now = now

    def __call__(self) -> float:
        return self.now

    def advance(self, seconds: float) -> None:
        self.now += seconds


#: Run a test once per profile (the ``fake`` and ``make_fake`` fixtures take the marker; the test gets ``profile``).
in_both_profiles = pytest.mark.parametrize(
    "profile", [pytest.param(name, marks=pytest.mark.orkestapay_profile(name)) for name in PROFILES]
)


def page_url(checkout: dict[str, Any]) -> str:
    """The hosted page of a checkout answer, whatever the form of its ``checkout_redirect_url``."""
    return hosted_page_url(checkout["checkout_redirect_url"])


def session() -> requests.Session:
    """A requests session that ignores proxy environment variables."""
    http = requests.Session()
    http.trust_env = False
    return http


class ApiClient:
    """A minimal OrkestaPay API client for the tests (token + JSON calls)."""

    def __init__(self, fake: FakeOrkestaPay) -> None:
        self.fake = fake
        self.http = session()
        self._token: str | None = None

    def token(self) -> str:
        if self._token is None:
            creds = {
                "client_id": self.fake.client_id,
                "client_secret": self.fake.client_secret,
                "grant_type": "client_credentials",
            }
            response = self.http.post(f"{self.fake.base_url}/v1/oauth/tokens", json=creds, timeout=5)
            assert response.status_code == 200, response.text
            self._token = response.json()["access_token"]
        return self._token

    def headers(self, **extra: str) -> dict[str, str]:
        return {"Authorization": f"Bearer {self.token()}", **extra}

    def get(self, path: str, **kwargs: Any) -> requests.Response:
        kwargs.setdefault("timeout", 5)
        return self.http.get(f"{self.fake.base_url}{path}", headers=self.headers(), **kwargs)

    def post(self, path: str, body: Any, headers: dict[str, str] | None = None, **kwargs: Any) -> requests.Response:
        kwargs.setdefault("timeout", 5)
        all_headers = self.headers(**{"Content-Type": "application/json", **(headers or {})})
        data = body if isinstance(body, (str, bytes)) else json.dumps(body)
        return self.http.post(f"{self.fake.base_url}{path}", data=data, headers=all_headers, **kwargs)

    def create_checkout(self, body: dict[str, Any] | None = None) -> dict[str, Any]:
        response = self.post("/v1/checkouts", body or seed_body())
        assert response.status_code == 200, response.text
        result: dict[str, Any] = response.json()
        return result


@dataclass
class Delivery:
    """One webhook POST the receiver got."""

    headers: dict[str, str]
    body: bytes


@dataclass
class WebhookReceiver:
    """A stdlib HTTP server that records webhook POSTs and answers from a script of statuses (default 200)."""

    statuses: list[int] = field(default_factory=list)
    delay: float = 0.0
    deliveries: list[Delivery] = field(default_factory=list)
    arrived: threading.Condition = field(default_factory=threading.Condition)
    server: ThreadingHTTPServer | None = None

    @property
    def url(self) -> str:
        assert self.server is not None
        return f"http://127.0.0.1:{self.server.server_address[1]}/webhooks/orkestapay/"

    def start(self) -> WebhookReceiver:
        receiver = self

        class Handler(BaseHTTPRequestHandler):
            def do_POST(self) -> None:
                body = self.rfile.read(int(self.headers.get("Content-Length") or 0))
                if receiver.delay:
                    time.sleep(receiver.delay)
                with receiver.arrived:
                    receiver.deliveries.append(Delivery({k.lower(): v for k, v in self.headers.items()}, body))
                    status = receiver.statuses.pop(0) if receiver.statuses else 200
                    receiver.arrived.notify_all()
                self.send_response(status)
                self.send_header("Content-Length", "0")
                self.end_headers()

            def log_message(self, format: str, *args: Any) -> None:
                pass

        self.server = ThreadingHTTPServer(("127.0.0.1", 0), Handler)
        self.server.daemon_threads = True
        threading.Thread(target=self.server.serve_forever, kwargs={"poll_interval": 0.05}, daemon=True).start()
        return self

    def stop(self) -> None:
        if self.server is not None:
            self.server.shutdown()
            self.server.server_close()

    def wait_for(self, count: int, timeout: float = 5.0) -> list[Delivery]:
        """Wait until at least ``count`` deliveries arrived; return them all."""
        with self.arrived:
            self.arrived.wait_for(lambda: len(self.deliveries) >= count, timeout)
            return list(self.deliveries)

    def payloads(self) -> list[dict[str, Any]]:
        return [json.loads(d.body) for d in self.deliveries]
