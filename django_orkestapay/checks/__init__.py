"""System checks for the ``ORKESTAPAY`` setting (``manage.py check``, ``manage.py check --deploy``).

Every check reads ``settings.ORKESTAPAY`` when it runs (never at import time) and touches neither the database nor
the network. The ids are stable; the documentation (Configuration, System checks) lists them:

=================  ==========================================================================================
id                 meaning
=================  ==========================================================================================
orkestapay.E001    ``ORKESTAPAY`` is not a dict
orkestapay.E002    ``ORKESTAPAY`` has a key this app does not know (a typo)
orkestapay.E003    deploy: ``CLIENT_ID`` or ``CLIENT_SECRET`` is missing or empty
orkestapay.E004    ``ENVIRONMENT`` is neither ``"sandbox"`` nor ``"production"``
orkestapay.E005    ``CONNECT_TIMEOUT`` or ``READ_TIMEOUT`` is not a positive number of seconds
orkestapay.E006    ``WEBHOOK_SECRETS`` is not a list of ``whsec_...`` secrets (for example a bare string)
orkestapay.E007    deploy: ``BASE_URL`` points at a loopback host (the fake gateway) while ``DEBUG`` is off
orkestapay.E008    ``SUCCESS_URL``, ``CANCEL_URL`` or ``SHOP_URL`` is neither a URL nor a URL name that reverses
orkestapay.E009    ``ADAPTER`` or ``PAY_PERMISSION`` cannot be imported or is not callable
orkestapay.E010    ``CHECKOUT_LIFETIME`` is not longer than ``CHECKOUT_REUSE_MARGIN``: no checkout is ever reused
orkestapay.E011    a ``WEBHOOK_SECRETS`` entry decodes to fewer than 24 bytes: not a real signing secret
orkestapay.E012    ``TOKEN_LOCK_TIMEOUT`` or ``TOKEN_LOCK_WAIT`` is not a number of seconds, 0 or more
orkestapay.E013    ``WEBHOOK_PROCESSING`` is not ``"auto"``, ``"inline"`` or ``"queue"``
orkestapay.E014    ``SCHEDULE`` names an unknown sweep or a bad interval, or ``EVENT_REPROCESS_AFTER`` is not seconds
orkestapay.E015    ``TASK_BACKEND`` is not an alias of ``settings.TASKS``
orkestapay.E017    ``IDEMPOTENCY_KEY_LIFETIME`` is not a positive number of seconds
orkestapay.W001    ``WEBHOOK_SECRETS`` is empty: the webhook endpoint refuses every delivery
orkestapay.W002    deploy: the sandbox environment is configured
orkestapay.W003    deploy: ``BASE_URL`` overrides OrkestaPay's API URL with another host
orkestapay.W004    a SQLite database without ``"transaction_mode": "IMMEDIATE"`` (locks taken too late)
orkestapay.W005    ``HEADLESS_PERMISSION`` is set: the deprecated name of ``PAY_PERMISSION``
=================  ==========================================================================================

``apps.OrkestaPayConfig.ready`` registers :func:`check_settings` and :func:`check_databases` (tag ``orkestapay``),
:func:`check_urls` (tags ``urls`` and ``orkestapay``: it needs the URLconf) and :func:`check_deployment` (tags
``security`` and ``orkestapay``, deploy only).
"""

from ._common import SQLITE_OPTIONS, TAG, is_loopback_url
from .environment import check_databases, check_deployment, check_urls
from .settings import check_settings

__all__ = [
    "SQLITE_OPTIONS",
    "TAG",
    "check_databases",
    "check_deployment",
    "check_settings",
    "check_urls",
    "is_loopback_url",
]
