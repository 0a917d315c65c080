"""Every fault kind, its scope (method, pattern, times) and whether the request was processed."""

from __future__ import annotations

import json
import time

import pytest
import requests

from django_orkestapay.testing import FakeOrkestaPay

from .helpers import ApiClient, page_url, seed_body, session


def test_delay_then_normal_answer(fake: FakeOrkestaPay, api: ApiClient) -> None:
    api.token()
    fake.inject_fault("POST", "/v1/checkouts", "delay", delay=0.3)

    started = time.monotonic()
    response = api.post("/v1/checkouts", seed_body())

    assert time.monotonic() - started >= 0.3
    assert response.status_code == 200
    assert response.json()["checkout_id"].startswith("chk_")


def test_timeout_after_processing_creates_the_checkout_and_loses_the_answer(
    fake: FakeOrkestaPay, api: ApiClient
) -> None:
    api.token()
    fake.inject_fault("POST", "/v1/checkouts", "timeout", delay=0.6)

    with pytest.raises(requests.exceptions.ReadTimeout):
        api.post("/v1/checkouts", seed_body(), timeout=0.2)

    assert len(fake.checkouts) == 1
    assert [r.status for r in fake.request_log if r.path == "/v1/checkouts"] == [None]
    assert fake.request_log[-1].fault == "timeout"


def test_timeout_before_processing_creates_nothing(fake: FakeOrkestaPay, api: ApiClient) -> None:
    api.token()
    fake.inject_fault("POST", "/v1/checkouts", "timeout", delay=0.0, after_processing=False)

    with pytest.raises(requests.exceptions.ConnectionError):
        api.post("/v1/checkouts", seed_body())

    assert fake.checkouts == {}


@pytest.mark.parametrize("status", [500, 502, 503])
def test_server_errors_answer_html_and_create_nothing(fake: FakeOrkestaPay, api: ApiClient, status: int) -> None:
    api.token()
    fake.inject_fault("POST", "/v1/checkouts", "status", status=status)

    response = api.post("/v1/checkouts", seed_body())

    assert response.status_code == status
    assert response.headers["Content-Type"].startswith("text/html")
    assert "<html>" in response.text
    assert fake.checkouts == {}
    assert api.post("/v1/checkouts", seed_body()).status_code == 200  # times=1: gone now


def test_status_after_processing_does_create(fake: FakeOrkestaPay, api: ApiClient) -> None:
    api.token()
    fake.inject_fault("POST", "/v1/checkouts", "status", status=502, after_processing=True)

    assert api.post("/v1/checkouts", seed_body()).status_code == 502
    assert len(fake.checkouts) == 1


def test_status_400_and_429_bodies(fake: FakeOrkestaPay, api: ApiClient) -> None:
    api.token()
    fake.inject_fault("POST", "/v1/checkouts", "status", status=400)
    fake.inject_fault("GET", "/v1/orders/*", "status", status=429)

    bad = api.post("/v1/checkouts", seed_body())
    limited = api.get("/v1/orders/ord_x")

    assert bad.status_code == 400
    assert bad.json()["category"] == "VALIDATION"
    assert bad.json()["validation_errors"]
    assert limited.status_code == 429
    assert limited.json()["message"]
    assert limited.headers["Retry-After"] == "1"


def test_malformed_json(fake: FakeOrkestaPay, api: ApiClient) -> None:
    api.token()
    fake.inject_fault("POST", "/v1/checkouts", "malformed_json")

    response = api.post("/v1/checkouts", seed_body())

    assert response.status_code == 200
    with pytest.raises(json.JSONDecodeError):
        json.loads(response.text)


def test_truncated_json_is_half_the_real_body(fake: FakeOrkestaPay, api: ApiClient) -> None:
    created = api.create_checkout()
    path = f"/v1/checkouts/{created['checkout_id']}"
    full = api.get(path).content
    fake.inject_fault("GET", "/v1/checkouts/*", "truncated_json")

    response = api.get(path)

    assert response.status_code == 200
    assert response.content == full[: len(full) // 2]
    with pytest.raises(json.JSONDecodeError):
        json.loads(response.text)


def test_unauthorized_even_with_a_valid_token(fake: FakeOrkestaPay, api: ApiClient) -> None:
    api.token()
    fake.inject_fault("POST", "/v1/checkouts", "unauthorized")

    response = api.post("/v1/checkouts", seed_body())

    assert response.status_code == 401
    assert response.json()["category"] == "AUTHENTICATION"
    assert fake.checkouts == {}
    assert api.post("/v1/checkouts", seed_body()).status_code == 200  # the same token works again


def test_connection_reset(fake: FakeOrkestaPay, api: ApiClient) -> None:
    api.token()
    fake.inject_fault("POST", "/v1/checkouts", "connection_reset")

    with pytest.raises(requests.exceptions.ConnectionError):
        api.post("/v1/checkouts", seed_body())

    assert fake.checkouts == {}
    assert fake.request_log[-1].status is None
    assert fake.request_log[-1].fault == "connection_reset"


def test_redirect_host(fake: FakeOrkestaPay, api: ApiClient) -> None:
    api.token()
    fake.inject_fault("POST", "/v1/checkouts", "redirect_host", redirect_host="evil.example")

    checkout = api.post("/v1/checkouts", seed_body()).json()

    assert page_url(checkout) == f"https://evil.example/checkout/{checkout['checkout_id']}"
    stored = api.get(f"/v1/checkouts/{checkout['checkout_id']}").json()
    assert stored["checkout_redirect_url"].startswith(fake.base_url)


def test_times_and_patterns(fake: FakeOrkestaPay, api: ApiClient) -> None:
    api.token()
    fake.inject_fault("GET", "/v1/orders/*", "status", status=503, times=2)

    statuses = [api.get("/v1/orders/ord_x").status_code for _ in range(3)]
    other = api.get("/v1/payments/pay_x").status_code
    post = api.post("/v1/checkouts", seed_body()).status_code

    assert statuses == [503, 503, 404]
    assert other == 404
    assert post == 200
    assert fake.faults == []


def test_wildcard_method_and_token_endpoint(fake: FakeOrkestaPay) -> None:
    fake.inject_fault("*", "/v1/oauth/tokens", "status", status=500)
    creds = {"client_id": fake.client_id, "client_secret": fake.client_secret, "grant_type": "client_credentials"}

    assert session().post(f"{fake.base_url}/v1/oauth/tokens", json=creds, timeout=5).status_code == 500
    assert session().post(f"{fake.base_url}/v1/oauth/tokens", json=creds, timeout=5).status_code == 200


def test_clear_faults_and_control_routes_are_never_faulted(fake: FakeOrkestaPay, api: ApiClient) -> None:
    fake.inject_fault("*", "*", "status", status=500, times=100)

    health = session().get(f"{fake.base_url}/_fake/health", timeout=5)
    fake.clear_faults()

    assert health.status_code == 200
    assert api.get("/v1/merchants/settings").status_code == 200


def test_faults_via_http_control_routes(fake: FakeOrkestaPay, api: ApiClient) -> None:
    http = session()
    api.token()
    spec = {"method": "POST", "path_pattern": "/v1/checkouts", "kind": "status", "status": 503, "times": 1}

    added = http.post(f"{fake.base_url}/_fake/faults", json=spec, timeout=5)
    listed = http.get(f"{fake.base_url}/_fake/faults", timeout=5).json()["faults"]
    failed = api.post("/v1/checkouts", seed_body()).status_code
    http.post(f"{fake.base_url}/_fake/faults", json={**spec, "times": 5}, timeout=5)
    cleared = http.delete(f"{fake.base_url}/_fake/faults", timeout=5)

    assert added.status_code == 200
    assert added.json()["kind"] == "status"
    assert [f["status"] for f in listed] == [503]
    assert failed == 503
    assert cleared.status_code == 200
    assert fake.faults == []
    assert api.post("/v1/checkouts", seed_body()).status_code == 200


@pytest.mark.parametrize(
    "spec",
    [
        {"method": "GET", "path_pattern": "/v1/*", "kind": "explode"},
        {"method": "GET", "path_pattern": "/v1/*", "kind": "status"},
        {"method": "GET", "path_pattern": "/v1/*", "kind": "redirect_host"},
        {"method": "GET", "path_pattern": "/v1/*", "kind": "delay", "times": 0},
        {"method": "GET", "path_pattern": "/v1/*", "kind": "truncated_json", "after_processing": False},
        {"method": "GET", "path_pattern": "/v1/*", "kind": "delay", "surprise": 1},
        {"method": "GET", "path_pattern": "/v1/orders/.*", "kind": "delay"},
        {"method": "GET", "path_pattern": "re:/v1/orders/(", "kind": "delay"},
    ],
)
def test_bad_fault_specs_are_refused(fake: FakeOrkestaPay, spec: dict[str, object]) -> None:
    response = session().post(f"{fake.base_url}/_fake/faults", json=spec, timeout=5)

    assert response.status_code == 400
    assert response.json()["message"]
    assert fake.faults == []


@pytest.mark.parametrize(
    ("pattern", "matched"),
    [
        ("/v1/orders/*", ["/v1/orders/ord_1", "/v1/orders/ord_1/payments"]),  # a glob's * also matches /
        ("/v1/orders/ord_?", ["/v1/orders/ord_1"]),
        ("*", ["/v1/orders/ord_1", "/v1/orders/ord_1/payments", "/v1/payments/pay_1", "/v1/checkouts"]),
        ("re:/v1/orders/[^/]+", ["/v1/orders/ord_1"]),  # a regular expression matches the whole path
        ("re:/v1/(orders|payments)/.*", ["/v1/orders/ord_1", "/v1/orders/ord_1/payments", "/v1/payments/pay_1"]),
        ("re:/v1/orders", []),  # not a prefix match
    ],
)
def test_path_patterns_are_globs_unless_marked_as_regular_expressions(
    fake: FakeOrkestaPay, pattern: str, matched: list[str]
) -> None:
    fault = fake.inject_fault("GET", pattern, "delay")
    paths = ["/v1/orders/ord_1", "/v1/orders/ord_1/payments", "/v1/payments/pay_1", "/v1/checkouts"]
    assert [path for path in paths if fault.matches("GET", path)] == matched


@pytest.mark.parametrize("pattern", ["/v1/orders/.*", "^/v1/orders", "/v1/orders/[^/]+$", r"/v1/orders/\d+", "/a|/b"])
def test_a_glob_that_looks_like_a_regular_expression_is_refused(fake: FakeOrkestaPay, pattern: str) -> None:
    with pytest.raises(ValueError, match="looks like a regular expression") as excinfo:
        fake.inject_fault("GET", pattern, "delay")
    assert f"'re:{pattern}'".replace("\\", "\\\\") in str(excinfo.value)
    assert fake.faults == []
