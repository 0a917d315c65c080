"""The sandbox probe: asks OrkestaPay what its docs leave open and compares each answer with what this package
assumes.

Run it with sandbox credentials, without a Django project::

    ORKESTAPAY_SANDBOX_CLIENT_ID=... ORKESTAPAY_SANDBOX_CLIENT_SECRET=... python -m django_orkestapay.probe

or inside one, with the project's ``ORKESTAPAY`` settings: ``python manage.py orkestapay_probe``. It prints one row
per question (match, MISMATCH with what to change, info, ERROR, skipped) and writes the same report as JSON with
secrets, tokens and buyer data removed. It refuses production unless told otherwise with an alarming flag.

It talks to OrkestaPay only through :class:`~django_orkestapay.client.OrkestaPayClient` (its typed methods, and
``raw_request`` for the questions they do not cover) and needs Django installed but no settings. Its modules:
``context`` (configuration, the refusal of production, raw calls, questions), ``assumptions`` (what the package
assumes, and the request bodies), ``questions_*`` (one module per subject), ``listener`` (the loopback return
and webhook server), ``runner`` (one run), ``report`` and ``redaction`` (the output), ``cli`` (both entry points'
options).
"""

from .context import (
    DEFAULT_GROUPS,
    GROUPS,
    OPT_IN_GROUPS,
    PRODUCTION_FLAG,
    Exchange,
    ProbeConfig,
    ProbeContext,
    ProductionRefused,
    Question,
)
from .redaction import Redactor
from .report import Report, Row, Verdict, render_json, render_text
from .runner import run_probe

__all__ = [
    "DEFAULT_GROUPS",
    "GROUPS",
    "OPT_IN_GROUPS",
    "PRODUCTION_FLAG",
    "Exchange",
    "ProbeConfig",
    "ProbeContext",
    "ProductionRefused",
    "Question",
    "Redactor",
    "Report",
    "Row",
    "Verdict",
    "render_json",
    "render_text",
    "run_probe",
]
