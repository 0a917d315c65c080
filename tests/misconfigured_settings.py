"""A deliberately misconfigured project for ``python -m django check --deploy`` (tests/test_checks.py).

``MISCONFIGURED_VARIANT`` picks the mistakes: ``many`` (the default: a typo, missing credentials, an unknown
environment, a zero timeout, a bare-string webhook secret, the fake gateway without DEBUG), ``sandbox`` (no webhook
secret, the sandbox in a deployment), ``override`` (a non-OrkestaPay BASE_URL), ``unsafe`` (return pages and a
shop link that do not reverse, an adapter that does not import, a checkout lifetime no longer than the reuse margin,
a webhook secret too short to be real, SQLite on a file without IMMEDIATE transactions) or ``not-a-dict``.

The SQLite file of ``unsafe`` is ``MISCONFIGURED_SQLITE_NAME`` (a temporary file; Django 6.1's model checks open
the database), else ``orkestapay-misconfigured.sqlite3`` in the temporary directory.
"""

import os
import tempfile

SECRET_KEY = "misconfigured-settings-for-tests-only-not-a-secret"
DEBUG = False
ALLOWED_HOSTS = ["127.0.0.1"]
INSTALLED_APPS = ["django.contrib.contenttypes", "django_orkestapay"]
DATABASES = {"default": {"ENGINE": "django.db.backends.sqlite3", "NAME": ":memory:"}}
USE_TZ = True
DEFAULT_AUTO_FIELD = "django.db.models.BigAutoField"

_VARIANT = os.environ.get("MISCONFIGURED_VARIANT", "many")

ORKESTAPAY: object
if _VARIANT == "many":
    ORKESTAPAY = {
        "CLIENTID": "typo-of-client-id",
        "ENVIRONMENT": "live",
        "READ_TIMEOUT": 0,
        "WEBHOOK_SECRETS": "whsec_bm90LWEtbGlzdA==",
        "BASE_URL": "http://127.0.0.1:8765",
    }
elif _VARIANT == "sandbox":
    ORKESTAPAY = {"CLIENT_ID": "id", "CLIENT_SECRET": "secret", "ENVIRONMENT": "sandbox"}
elif _VARIANT == "override":
    ORKESTAPAY = {
        "CLIENT_ID": "id",
        "CLIENT_SECRET": "secret",
        "BASE_URL": "https://orkestapay-mock.example.com",
        "WEBHOOK_SECRETS": ["whsec_bm90LWEtbGlzdC1idXQtbG9uZy1lbm91Z2g="],
    }
elif _VARIANT == "unsafe":
    ROOT_URLCONF = __name__
    urlpatterns: list[object] = []
    _SQLITE_NAME = os.path.join(tempfile.gettempdir(), "orkestapay-misconfigured.sqlite3")
    DATABASES = {
        "default": {
            "ENGINE": "django.db.backends.sqlite3",
            "NAME": os.environ.get("MISCONFIGURED_SQLITE_NAME", _SQLITE_NAME),
        }
    }
    ORKESTAPAY = {
        "CLIENT_ID": "id",
        "CLIENT_SECRET": "secret",
        "ENVIRONMENT": "production",
        "SUCCESS_URL": "shop:thankz",
        "CANCEL_URL": "/cart/",
        "SHOP_URL": "shop:home",
        "ADAPTER": "shop.adapters.nope",
        "CHECKOUT_LIFETIME": 120,
        "WEBHOOK_SECRETS": ["whsec_c2hvcnQ="],
    }
else:
    ORKESTAPAY = ["not", "a", "dict"]
