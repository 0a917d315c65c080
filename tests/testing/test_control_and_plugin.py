"""HTTP control routes and the pytest plugin's fixtures."""

from __future__ import annotations

import os
import subprocess
import sys
from typing import Any

import pytest
from django.core.cache import caches

from django_orkestapay import services
from django_orkestapay.exceptions import NotFoundError
from django_orkestapay.testing import FakeOrkestaPay

from .helpers import ApiClient, session


def test_health_reset_requests_and_state(fake: FakeOrkestaPay, api: ApiClient) -> None:
    http = session()
    checkout = api.create_checkout()

    health = http.get(f"{fake.base_url}/_fake/health", timeout=5).json()
    requests_log = http.get(f"{fake.base_url}/_fake/requests", timeout=5).json()["requests"]
    everything = http.get(f"{fake.base_url}/_fake/requests", params={"kind": "all"}, timeout=5).json()["requests"]
    state = http.get(f"{fake.base_url}/_fake/state", timeout=5).json()
    reset = http.post(f"{fake.base_url}/_fake/reset", timeout=5)

    assert health["status"] == "ok"
    assert health["base_url"] == fake.base_url
    assert [(r["method"], r["path"], r["status"]) for r in requests_log] == [
        ("POST", "/v1/oauth/tokens", 200),
        ("POST", "/v1/checkouts", 200),
    ]
    assert requests_log[0]["json_body"]["client_secret"] == "[REDACTED]"
    assert requests_log[1]["headers"]["authorization"] == "Bearer [REDACTED]"
    assert [r["kind"] for r in everything][-2:] == ["control", "control"]
    assert list(state["checkouts"]) == [checkout["checkout_id"]]
    assert reset.status_code == 200
    assert fake.checkouts == {}
    assert fake.request_log == []


@pytest.mark.orkestapay_profile("rich")  # the expired order is EXPIRED
def test_scenario_control_routes(fake: FakeOrkestaPay, api: ApiClient) -> None:
    http = session()
    pending = api.create_checkout()
    expiring = api.create_checkout()
    url = fake.pay_pending(pending["checkout_id"])
    payment_id = url.split("payment_id=")[1].split("&")[0]

    settled = http.post(f"{fake.base_url}/_fake/payments/{payment_id}/settle", timeout=5)
    settle_again = http.post(f"{fake.base_url}/_fake/payments/{payment_id}/settle", timeout=5)
    expired = http.post(f"{fake.base_url}/_fake/checkouts/{expiring['checkout_id']}/expire", timeout=5)
    forced = http.post(
        f"{fake.base_url}/_fake/orders/{pending['order']['order_id']}/status", json={"status": "FAILED"}, timeout=5
    )
    unknown = http.post(f"{fake.base_url}/_fake/payments/pay_nope/settle", timeout=5)
    tokens = http.post(f"{fake.base_url}/_fake/tokens/expire", timeout=5)

    assert settled.status_code == 200
    assert settled.json()["status"] == "COMPLETED"
    assert settle_again.status_code == 409
    assert expired.json()["order"]["status"] == "EXPIRED"
    assert forced.json()["status"] == "FAILED"
    assert unknown.status_code == 404
    assert tokens.status_code == 200
    assert api.get("/v1/merchants/settings").status_code == 401
    assert http.get(f"{fake.base_url}/_fake/nothing", timeout=5).status_code == 404


def test_count_requests_filters(fake: FakeOrkestaPay, api: ApiClient) -> None:
    checkout = api.create_checkout()
    api.get(f"/v1/checkouts/{checkout['checkout_id']}")
    api.get(f"/v1/orders/{checkout['order']['order_id']}")

    assert fake.count_requests() == 4
    assert fake.count_requests("get") == 2
    assert fake.count_requests("POST", "/v1/checkouts") == 1
    assert fake.count_requests(prefix="/v1/orders/") == 1
    assert fake.count_requests("GET", prefix="/v1/checkouts/") == 1


def test_base_url_requires_start() -> None:
    with pytest.raises(RuntimeError):
        _ = FakeOrkestaPay().base_url


def test_context_manager_starts_and_stops() -> None:
    with FakeOrkestaPay() as fake:
        url = fake.base_url
        assert session().get(f"{url}/_fake/health", timeout=5).status_code == 200

    with pytest.raises(Exception):  # noqa: PT011 - connection refused
        session().get(f"{url}/_fake/health", timeout=1)


class TestPluginFixture:
    """The function fixture hands out the session fake, reset and with the test's endpoints removed."""

    def test_first_leaves_state_behind(self, fake_orkestapay: FakeOrkestaPay, fake_orkestapay_server: Any) -> None:
        assert fake_orkestapay is fake_orkestapay_server
        ApiClient(fake_orkestapay).create_checkout()
        fake_orkestapay.add_webhook_endpoint("http://127.0.0.1:9/hook")
        fake_orkestapay.strict_amounts = True
        TestPluginFixture.port = fake_orkestapay.port

    def test_second_sees_a_clean_fake(self, fake_orkestapay: FakeOrkestaPay) -> None:
        assert fake_orkestapay.port == TestPluginFixture.port
        assert fake_orkestapay.checkouts == {}
        assert fake_orkestapay.request_log == []
        assert fake_orkestapay.webhook_endpoints == []
        assert fake_orkestapay.strict_amounts is False

    port: int = 0


def test_reset_hooks_run_after_every_reset_in_order(make_fake: Any) -> None:
    fake = make_fake()
    calls: list[tuple[str, int]] = []
    fake.reset_hooks.append(lambda: calls.append(("first", len(fake.checkouts))))
    fake.reset_hooks.append(lambda: calls.append(("second", len(fake.checkouts))))
    ApiClient(fake).create_checkout()

    fake.reset()
    session().post(f"{fake.base_url}/_fake/reset", timeout=5)

    assert calls == [("first", 0), ("second", 0)] * 2  # after the state was cleared, for both ways of resetting


def test_a_reset_makes_the_app_forget_the_token_it_cached(fake_orkestapay: FakeOrkestaPay, settings: Any) -> None:
    """Without the plugin's reset hook the app would present the revoked token, be refused once and fetch anew."""
    settings.ORKESTAPAY = {
        "CLIENT_ID": fake_orkestapay.client_id,
        "CLIENT_SECRET": fake_orkestapay.client_secret,
        "BASE_URL": fake_orkestapay.base_url,
    }
    client = services.get_client()
    client.get_access_token()
    key = client.token_cache_key
    assert caches["default"].get(key) is not None

    fake_orkestapay.reset()

    assert caches["default"].get(key) is None
    with pytest.raises(NotFoundError):
        client.get_order("ord_unknown")
    assert [(r.method, r.path, r.status) for r in fake_orkestapay.request_log] == [
        ("POST", "/v1/oauth/tokens", 200),
        ("GET", "/v1/orders/ord_unknown", 404),
    ]


def test_the_plugin_imports_no_django_and_its_hook_needs_a_configured_django() -> None:
    code = (
        "import sys\n"
        "from django_orkestapay.testing.pytest_plugin import forget_app_token\n"
        "from django_orkestapay.testing import FakeOrkestaPay\n"
        "print(sorted(m for m in sys.modules if m.split('.')[0] == 'django'))\n"
        "with FakeOrkestaPay() as fake:\n"
        "    forget_app_token(fake)\n"
        "    print('no-op')\n"
    )
    env = {key: value for key, value in os.environ.items() if key != "DJANGO_SETTINGS_MODULE"}
    result = subprocess.run([sys.executable, "-c", code], capture_output=True, text=True, env=env, timeout=60)
    assert result.returncode == 0, result.stderr
    assert result.stdout.splitlines() == ["[]", "no-op"]
