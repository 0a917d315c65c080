"""A fake OrkestaPay gateway for tests and demos: real HTTP on a loopback port, standard library only.

::

    from django_orkestapay.testing import FakeOrkestaPay

    with FakeOrkestaPay() as fake:            # http://127.0.0.1:<random port>
        fake.base_url                         # point the app's API base URL here
        fake.pay(checkout_id)                 # drive the hosted page without a browser
        fake.inject_fault("POST", "/v1/checkouts", "status", status=503)

Also: ``python -m django_orkestapay.testing`` (a standalone server) and the pytest plugin
``django_orkestapay.testing.pytest_plugin`` (fixtures ``fake_orkestapay`` and ``fake_orkestapay_server``).
This package imports neither Django nor requests.
"""

from .fake_gateway import FakeOrkestaPay
from .faults import FAULT_KINDS, Fault
from .recording import RecordedRequest
from .records import (
    CheckoutClosed,
    CheckoutExpired,
    FakeGatewayError,
    InvalidTransition,
    PaymentDeclined,
)
from .webhooks import (
    PAYLOAD_VERSIONS,
    RETRY_SCHEDULE,
    WEBHOOK_MODES,
    WebhookAttempt,
    WebhookEndpoint,
    generate_secret,
    sign,
)

__all__ = [
    "FAULT_KINDS",
    "PAYLOAD_VERSIONS",
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
    "sign",
]
