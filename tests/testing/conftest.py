"""Fixtures for the fake gateway's own tests."""

from __future__ import annotations

from collections.abc import Callable, Iterator
from typing import Any

import pytest

from django_orkestapay.testing import FakeOrkestaPay
from django_orkestapay.testing.pytest_plugin import (  # noqa: F401
    fake_orkestapay,
    fake_orkestapay_server,
    marked_profile,
    session_profile,
)

from .helpers import ApiClient, WebhookReceiver


@pytest.fixture
def make_fake(request: pytest.FixtureRequest) -> Iterator[Callable[..., FakeOrkestaPay]]:
    """Build and start a dedicated fake with custom settings; all are stopped after the test. Without ``profile=``
    it takes the test's ``orkestapay_profile`` marker, else the session's (``ORKESTAPAY_FAKE_PROFILE``), like the
    shared fake."""
    started: list[FakeOrkestaPay] = []
    profile = marked_profile(request) or session_profile()

    def factory(**kwargs: Any) -> FakeOrkestaPay:
        kwargs.setdefault("profile", profile)
        fake = FakeOrkestaPay(**kwargs).start()
        started.append(fake)
        return fake

    yield factory
    for fake in started:
        fake.stop()


@pytest.fixture
def fake(fake_orkestapay: FakeOrkestaPay) -> FakeOrkestaPay:  # noqa: F811
    """The plugin's shared fake, reset around each test."""
    return fake_orkestapay


@pytest.fixture
def api(fake: FakeOrkestaPay) -> ApiClient:
    return ApiClient(fake)


@pytest.fixture
def receiver() -> Iterator[WebhookReceiver]:
    server = WebhookReceiver().start()
    yield server
    server.stop()
