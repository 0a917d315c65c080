"""The example shop's settings, read from the environment and example_project/.env with django-environ."""

from pathlib import Path

import environ

BASE_DIR = Path(__file__).resolve().parent.parent

env = environ.Env(
    # Off by default: buyers see the shop's own error pages, never Django's debug pages (settings, tracebacks).
    # `manage.py rundemo` serves the static files itself. DEBUG=on in .env for development.
    DEBUG=(bool, False),
    ALLOWED_HOSTS=(list, ["127.0.0.1", "localhost"]),
    ORKESTAPAY_CLIENT_ID=(str, ""),
    ORKESTAPAY_CLIENT_SECRET=(str, ""),
    ORKESTAPAY_ENVIRONMENT=(str, "sandbox"),
    ORKESTAPAY_RETURN_BASE_URL=(str, ""),
    ORKESTAPAY_WEBHOOK_SECRET=(str, ""),
    FAKE_GATEWAY_PORT=(int, 8765),
)
environ.Env.read_env(BASE_DIR / ".env")

DEBUG = env("DEBUG")
# A development default only; set SECRET_KEY in .env for anything else.
SECRET_KEY = env("SECRET_KEY", default="example-shop-development-only-key-not-secret")
ALLOWED_HOSTS = env("ALLOWED_HOSTS")

INSTALLED_APPS = [
    "shop",  # first, so the shop's own Spanish catalogue wins over Django's (e.g. "Correo electrónico")
    "django.contrib.admin",
    "django.contrib.auth",
    "django.contrib.contenttypes",
    "django.contrib.sessions",
    "django.contrib.messages",
    "django.contrib.staticfiles",
    # django_tasks_db, the database task backend (webhooks and sweeps run in a worker, manage.py db_worker), under a
    # name the shop translates
    "shop.task_results.TaskResultsConfig",
    "django_orkestapay",
]

MIDDLEWARE = [
    "django.middleware.security.SecurityMiddleware",
    "django.contrib.sessions.middleware.SessionMiddleware",
    "django.middleware.locale.LocaleMiddleware",
    "django.middleware.common.CommonMiddleware",
    "django.middleware.csrf.CsrfViewMiddleware",
    "django.contrib.auth.middleware.AuthenticationMiddleware",
    "django.contrib.messages.middleware.MessageMiddleware",
    "django.middleware.clickjacking.XFrameOptionsMiddleware",
]

ROOT_URLCONF = "shop_site.urls"
WSGI_APPLICATION = "shop_site.wsgi.application"

TEMPLATES = [
    {
        "BACKEND": "django.template.backends.django.DjangoTemplates",
        "DIRS": [],
        "APP_DIRS": True,
        "OPTIONS": {
            "context_processors": [
                "django.template.context_processors.request",
                "django.template.context_processors.i18n",
                "django.contrib.auth.context_processors.auth",
                "django.contrib.messages.context_processors.messages",
            ]
        },
    }
]

DATABASES = {"default": env.db("DATABASE_URL", default=f"sqlite:///{BASE_DIR / 'db.sqlite3'}")}
if DATABASES["default"]["ENGINE"] == "django.db.backends.sqlite3":
    # A return and a webhook can write at the same moment: wait for the lock instead of failing, and take the
    # write lock at the start of each transaction so two writers never deadlock.
    DATABASES["default"].setdefault("OPTIONS", {}).update(
        {"timeout": 20, "transaction_mode": "IMMEDIATE", "init_command": "PRAGMA journal_mode=WAL;"}
    )
CACHES = {"default": env.cache("CACHE_URL", default="locmemcache://")}

# Background work (Django's Tasks framework; the django-tasks backport on Django 5.2): tasks are rows in this
# database and `manage.py db_worker` runs them (`manage.py rundemo` starts one). The webhook endpoint then stores
# each delivery, enqueues its processing and answers 202 at once.
TASKS = {"default": {"BACKEND": "django_tasks_db.DatabaseBackend", "QUEUES": ["default"]}}

LANGUAGE_CODE = "es-mx"
# Each language named in itself: the header's picker shows these names untranslated ("English", not "Inglés").
LANGUAGES = [("es-mx", "Español"), ("en", "English")]
TIME_ZONE = "America/Mexico_City"
USE_I18N = True
USE_TZ = True
STATIC_URL = "static/"
STATIC_ROOT = BASE_DIR / "staticfiles"
DEFAULT_AUTO_FIELD = "django.db.models.BigAutoField"

# --- OrkestaPay ---------------------------------------------------------------------------------------------
# Without credentials the shop uses the fake gateway that `manage.py rundemo` embeds on loopback.
FAKE_GATEWAY_PORT = env("FAKE_GATEWAY_PORT")
USE_FAKE_GATEWAY = not env("ORKESTAPAY_CLIENT_ID")

ORKESTAPAY = {
    "CLIENT_ID": env("ORKESTAPAY_CLIENT_ID") or "fake-client-id",
    "CLIENT_SECRET": env("ORKESTAPAY_CLIENT_SECRET") or "fake-client-secret",
    "ENVIRONMENT": env("ORKESTAPAY_ENVIRONMENT"),
    "SUCCESS_URL": "shop:thanks",
    "CANCEL_URL": "shop:canceled",
    "SHOP_URL": "shop:products",  # the way back offered on the app's own pages
    "RETURN_BASE_URL": env("ORKESTAPAY_RETURN_BASE_URL") or None,
    "WEBHOOK_SECRETS": [s for s in [env("ORKESTAPAY_WEBHOOK_SECRET")] if s],
}
if USE_FAKE_GATEWAY:
    ORKESTAPAY["BASE_URL"] = f"http://127.0.0.1:{FAKE_GATEWAY_PORT}"
    # The fake gateway signs its webhooks with this demo-only key (not a secret: it only works on loopback).
    ORKESTAPAY["WEBHOOK_SECRETS"] = ORKESTAPAY["WEBHOOK_SECRETS"] or ["whsec_ZXhhbXBsZS1zaG9wLWRlbW8td2ViaG9vay1rZXk="]

LOGGING = {
    "version": 1,
    "disable_existing_loggers": False,
    "handlers": {"console": {"class": "logging.StreamHandler"}},
    "loggers": {"django_orkestapay": {"handlers": ["console"], "level": "INFO"}},
}
