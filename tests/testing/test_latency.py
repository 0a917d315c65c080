"""The fake's ``latency`` setting: a fixed pause before every API answer (a network round trip), nothing else."""

from __future__ import annotations

from collections.abc import Callable

import pytest

from django_orkestapay.testing import FakeOrkestaPay

from .helpers import ApiClient, seed_body, session


@pytest.fixture
def pauses(fake: FakeOrkestaPay, monkeypatch: pytest.MonkeyPatch) -> list[float]:
    """Record every pause the fake takes instead of sleeping (so nothing here depends on the clock)."""
    recorded: list[float] = []
    monkeypatch.setattr(fake, "_sleep", recorded.append)
    return recorded


def test_no_latency_by_default(fake: FakeOrkestaPay, api: ApiClient, pauses: list[float]) -> None:
    api.token()
    assert api.post("/v1/checkouts", seed_body()).status_code == 200

    assert fake.latency == 0
    assert pauses == []


def test_latency_pauses_before_every_api_answer(fake: FakeOrkestaPay, api: ApiClient, pauses: list[float]) -> None:
    fake.latency = 0.04

    api.token()
    created = api.post("/v1/checkouts", seed_body()).json()
    order = api.get(f"/v1/orders/{created['order']['order_id']}")

    assert order.status_code == 200
    assert pauses == [0.04, 0.04, 0.04]
    assert fake.count_requests() == 3


def test_latency_also_delays_errors_and_unknown_routes(
    fake: FakeOrkestaPay, api: ApiClient, pauses: list[float]
) -> None:
    fake.latency = 0.04
    api.token()
    fake.inject_fault("POST", "/v1/checkouts", "status", status=503)

    assert api.post("/v1/checkouts", seed_body()).status_code == 503
    assert api.get("/v1/no-such-route").status_code == 404
    assert pauses == [0.04, 0.04, 0.04]


def test_latency_does_not_slow_the_hosted_page_or_control_routes(
    fake: FakeOrkestaPay, api: ApiClient, pauses: list[float]
) -> None:
    api.token()
    created = api.post("/v1/checkouts", seed_body()).json()
    fake.latency = 0.04
    http = session()

    page = http.get(created["checkout_redirect_url"], timeout=5)
    health = http.get(f"{fake.base_url}/_fake/health", timeout=5)

    assert page.status_code == 200
    assert health.status_code == 200
    assert pauses == []


def test_latency_works_alongside_a_delay_fault(fake: FakeOrkestaPay, api: ApiClient, pauses: list[float]) -> None:
    fake.latency = 0.04
    api.token()
    fake.inject_fault("POST", "/v1/checkouts", "delay", delay=0.3)

    assert api.post("/v1/checkouts", seed_body()).status_code == 200
    assert pauses == [0.04, 0.04, 0.3]


def test_reset_restores_the_constructor_latency(make_fake: Callable[..., FakeOrkestaPay]) -> None:
    fake = make_fake(latency=0.01)
    fake.latency = 0.5

    fake.reset()

    assert fake.latency == 0.01


def test_constructor_latency_applies_from_the_first_request(
    make_fake: Callable[..., FakeOrkestaPay], monkeypatch: pytest.MonkeyPatch
) -> None:
    fake = make_fake(latency=0.02)
    recorded: list[float] = []
    monkeypatch.setattr(fake, "_sleep", recorded.append)

    response = session().post(
        f"{fake.base_url}/v1/oauth/tokens",
        json={"client_id": fake.client_id, "client_secret": fake.client_secret, "grant_type": "client_credentials"},
        timeout=5,
    )

    assert response.status_code == 200
    assert recorded == [0.02]
