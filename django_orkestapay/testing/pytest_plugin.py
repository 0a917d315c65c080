"""pytest fixtures for the fake OrkestaPay gateway.

Enable in a project's top-level ``conftest.py``::

    pytest_plugins = ["django_orkestapay.testing.pytest_plugin"]

``fake_orkestapay_server`` (session scope) is one started fake for the whole run; ``fake_orkestapay`` (function
scope) is the same fake, reset before and after each test (state, logs, faults, webhook queue and behaviour
settings), so tests may change its switches freely; webhook endpoints a test registers are removed afterwards.
"""

from __future__ import annotations

from collections.abc import Iterator

import pytest

from .fake_gateway import FakeOrkestaPay


@pytest.fixture(scope="session")
def fake_orkestapay_server() -> Iterator[FakeOrkestaPay]:
    """One fake gateway on a free loopback port, started for the whole test session."""
    with FakeOrkestaPay() as fake:
        yield fake


@pytest.fixture
def fake_orkestapay(fake_orkestapay_server: FakeOrkestaPay) -> Iterator[FakeOrkestaPay]:
    """The session's fake gateway, reset before and after the test (webhook endpoints it adds are removed)."""
    fake = fake_orkestapay_server
    endpoints = fake.webhook_endpoints
    fake.reset()
    yield fake
    fake.webhooks.replace_endpoints(endpoints)
    fake.reset()
