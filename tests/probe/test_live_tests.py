"""The live sandbox tests (``tests/test_live_sandbox.py``) are collected and reported as skipped without
credentials, pass against a gateway that answers as the package assumes, and fail, with the probe's report, on one
that does not. Each case runs pytest in a subprocess, pointed at the fake gateway instead of the sandbox."""

from __future__ import annotations

import os
import subprocess
import sys
from pathlib import Path

import pytest

from django_orkestapay.testing import FakeOrkestaPay

ROOT = Path(__file__).resolve().parents[2]
LIVE_TESTS = "tests/test_live_sandbox.py"

pytestmark = pytest.mark.standalone


def run_live_tests(*args: str, fake: FakeOrkestaPay | None = None) -> subprocess.CompletedProcess[str]:
    env = {key: value for key, value in os.environ.items() if not key.startswith("ORKESTAPAY_SANDBOX_")}
    if fake is not None:
        env.update(
            ORKESTAPAY_SANDBOX_CLIENT_ID=fake.client_id,
            ORKESTAPAY_SANDBOX_CLIENT_SECRET=fake.client_secret,
            ORKESTAPAY_SANDBOX_BASE_URL=fake.base_url,
        )
    command = [sys.executable, "-m", "pytest", "-p", "no:cacheprovider", "-q", "-rs", LIVE_TESTS, *args]
    return subprocess.run(command, cwd=ROOT, env=env, capture_output=True, text=True, timeout=120, check=False)


def test_without_credentials_they_are_reported_as_skipped() -> None:
    result = run_live_tests()

    assert result.returncode == 0, result.stdout + result.stderr
    assert "8 skipped" in result.stdout
    assert "passed" not in result.stdout
    assert "deselected" not in result.stdout
    assert "SKIPPED [7] tests/test_live_sandbox.py" in result.stdout
    assert "set ORKESTAPAY_SANDBOX_CLIENT_ID and ORKESTAPAY_SANDBOX_CLIENT_SECRET" in result.stdout


# the fake stands in for a sandbox that answers as the probe expects: the rich profile (the evidence profile's
# GET /v1/checkouts/{id} is a mismatch to the probe's checkout.read_back)
@pytest.mark.orkestapay_profile("rich")
def test_with_credentials_they_ask_the_gateway(fake: FakeOrkestaPay) -> None:
    result = run_live_tests(fake=fake)

    assert result.returncode == 0, result.stdout + result.stderr
    assert "7 passed, 1 skipped" in result.stdout
    assert "needs a person with a browser: set ORKESTAPAY_SANDBOX_RETURN=1" in result.stdout
    assert fake.count_requests("POST", "/v1/checkouts") > 10


def test_a_different_answer_fails_with_the_report(fake: FakeOrkestaPay) -> None:
    fake.reject_duplicate_merchant_order_ids = True

    result = run_live_tests("-k", "duplicates or amounts", fake=fake)

    assert result.returncode == 1
    assert "1 failed, 1 passed, 6 deselected" in result.stdout
    assert "OrkestaPay answered otherwise: checkout.duplicate_merchant_order_id" in result.stdout
    assert "[MISMATCH] checkout.duplicate_merchant_order_id" in result.stdout
