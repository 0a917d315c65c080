"""pytest fixtures for the fake OrkestaPay gateway.

Enable in a project's top-level ``conftest.py``::

    pytest_plugins = ["django_orkestapay.testing.pytest_plugin"]

``fake_orkestapay_server`` (session scope) is one started fake for the whole run; ``fake_orkestapay`` (function
scope) is the same fake, reset before and after each test (state, logs, faults, webhook queue and behaviour
settings), so tests may change its switches freely; webhook endpoints a test registers are removed afterwards.

A reset revokes every token the fake issued, so the plugin also makes django-orkestapay forget the access token it
cached (:func:`forget_app_token`, a reset hook): the next API call fetches a new one instead of being refused once.
That part needs Django configured with ``django_orkestapay`` installed, and does nothing otherwise; the fake itself
never imports Django.

The session fake answers in the profile the environment variable ``ORKESTAPAY_FAKE_PROFILE`` names (``rich`` or
``evidence``), else in ``DEFAULT_PROFILE``. One test takes the other with the marker
``@pytest.mark.orkestapay_profile("evidence")`` (or ``"rich"``; also on a module, ``pytestmark = ...``): the fixture
sets it after the reset, and the next reset restores the session's.
"""

from __future__ import annotations

import contextlib
import os
from collections.abc import Iterator

import pytest

from .fake_gateway import FakeOrkestaPay
from .profiles import DEFAULT_PROFILE, check_profile

#: The environment variable that chooses the session fake's profile.
PROFILE_VARIABLE = "ORKESTAPAY_FAKE_PROFILE"
#: The marker that gives one test (or module, or class) another profile.
PROFILE_MARKER = "orkestapay_profile"


def pytest_configure(config: pytest.Config) -> None:
    config.addinivalue_line(
        "markers", f"{PROFILE_MARKER}(profile): the fake_orkestapay fixture answers in this profile (rich or evidence)"
    )


def session_profile() -> str:
    """The session fake's profile: ``ORKESTAPAY_FAKE_PROFILE`` when set (ValueError if it names none), else
    ``DEFAULT_PROFILE``."""
    return check_profile(os.environ.get(PROFILE_VARIABLE) or DEFAULT_PROFILE)


def marked_profile(request: pytest.FixtureRequest) -> str | None:
    """The profile the test's closest ``orkestapay_profile`` marker names, or None."""
    marker = request.node.get_closest_marker(PROFILE_MARKER)
    if marker is None:
        return None
    if len(marker.args) != 1:
        raise pytest.UsageError(f'@pytest.mark.{PROFILE_MARKER} takes one profile, e.g. ("evidence")')
    return check_profile(marker.args[0])


def forget_app_token(fake: FakeOrkestaPay) -> None:
    """Delete the access token django-orkestapay cached from ``fake`` (and the one of the ``ORKESTAPAY`` settings,
    which may name the fake by another host) from its token cache; a no-op without Django or the app."""
    try:
        from django.apps import apps
        from django.conf import settings
    except ImportError:  # a project without Django uses the fake on its own
        return
    if not settings.configured or not apps.ready or not apps.is_installed("django_orkestapay"):
        return
    from django.core.exceptions import ImproperlyConfigured

    from django_orkestapay import services

    services.forget_access_token(fake.base_url, fake.client_id, fake.client_secret)
    with contextlib.suppress(ImproperlyConfigured):  # without credentials in the settings nothing of theirs is cached
        services.forget_access_token()


@pytest.fixture(scope="session")
def fake_orkestapay_server() -> Iterator[FakeOrkestaPay]:
    """One fake gateway on a free loopback port, started for the whole test session, in the profile
    ``ORKESTAPAY_FAKE_PROFILE`` names (else ``DEFAULT_PROFILE``). Its resets make the app forget its cached access
    token."""
    with FakeOrkestaPay(profile=session_profile()) as fake:
        fake.reset_hooks.append(lambda: forget_app_token(fake))
        yield fake


@pytest.fixture
def fake_orkestapay(request: pytest.FixtureRequest, fake_orkestapay_server: FakeOrkestaPay) -> Iterator[FakeOrkestaPay]:
    """The session's fake gateway, reset before and after the test (webhook endpoints it adds are removed, and the
    app's cached access token is forgotten), in the profile of an ``orkestapay_profile`` marker if the test has one."""
    fake = fake_orkestapay_server
    endpoints = fake.webhook_endpoints
    fake.reset()
    profile = marked_profile(request)
    if profile is not None:
        fake.profile = profile
    yield fake
    fake.webhooks.replace_endpoints(endpoints)
    fake.reset()
