"""HTTP control routes and the pytest plugin's fixtures."""

from __future__ import annotations

from typing import Any

import pytest

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
