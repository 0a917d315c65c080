"""A fake OrkestaPay gateway for tests and demos: real HTTP on a loopback port, standard library only.

::

    from django_orkestapay.testing import FakeOrkestaPay

    with FakeOrkestaPay(profile="evidence") as fake:  # http://127.0.0.1:<random port>
        fake.base_url                                 # point the app's API base URL here
        fake.pay(checkout_id)                         # drive the hosted page without a browser
        fake.inject_fault("POST", "/v1/checkouts", "status", status=503)

Also: ``python -m django_orkestapay.testing`` (a standalone server) and the pytest plugin
``django_orkestapay.testing.pytest_plugin`` (fixtures ``fake_orkestapay`` and ``fake_orkestapay_server``).
This package imports neither Django nor requests. ``profile="evidence"`` answers only what OrkestaPay's public
record shows (``profiles``, ``evidence.EVIDENCE``) and is the default; ``"rich"`` answers more (the demo uses it).
"""

from .fake_gateway import FakeOrkestaPay
from .faults import FAULT_KINDS, Fault
from .hosted_page import hosted_page_url
from .profiles import DEFAULT_PROFILE, PROFILES
from .recording import RecordedRequest
from .records import (
    CheckoutClosed,
    CheckoutExpired,
    FakeGatewayError,
    InvalidTransition,
    PaymentDeclined,
)
from .webhook_payloads import PAYLOAD_VERSIONS
from .webhooks import (
    RETRY_SCHEDULE,
    WEBHOOK_MODES,
    WebhookAttempt,
    WebhookEndpoint,
    generate_secret,
    sign,
)

__all__ = [
    "DEFAULT_PROFILE",
    "FAULT_KINDS",
    "PAYLOAD_VERSIONS",
    "PROFILES",
    "RETRY_SCHEDULE",
    "WEBHOOK_MODES",
    "CheckoutClosed",
    "CheckoutExpired",
    "FakeGatewayError",
    "FakeOrkestaPay",
    "Fault",
    "InvalidTransition",
    "PaymentDeclined",
    "RecordedRequest",
    "WebhookAttempt",
    "WebhookEndpoint",
    "generate_secret",
    "hosted_page_url",
    "sign",
]
