"""Django settings for the benchmarks: the app, the admin and a tiny CSRF helper view, configured from the
environment by the bench driver (``python -m bench``), which also hands them to the gunicorn workers.

``BENCH_DATABASE_URL``   ``postgres://user@127.0.0.1:port/name`` or ``sqlite:////path/to/file``
``BENCH_GATEWAY_URL``    the fake gateway's base URL (``http://127.0.0.1:<port>``)
``BENCH_WEBHOOK_SECRET`` the ``whsec_`` secret the load generator signs webhooks with
``BENCH_CONN_MAX_AGE``   seconds a worker keeps its database connection (default 60, as in production)
``BENCH_REDIS_URL``      ``redis://127.0.0.1:port/0``: the cache is Django's RedisCache there (the fleet runs),
                         else a per-process local-memory cache
``BENCH_CACHE_PREFIX``   the Redis cache's key prefix (a new one is a cold cache); it also names each worker's Redis
                         connection ``<prefix>-<pid>``, so the fleet run can see which workers reached the cache
``BENCH_TOKEN_LOCK_TIMEOUT``  ``ORKESTAPAY["TOKEN_LOCK_TIMEOUT"]`` when set (``0``: no fetch lock)
``BENCH_SECRET_KEY``     the ``SECRET_KEY`` when set: the driver's own, so the pay references it signs are valid here
``BENCH_TASKS``          ``database``: the database task backend (django-tasks-db), so the webhook endpoint stores,
                         enqueues and answers 202 (the queued sections); ``rq``: RQ over Redis (django-tasks-rq) on
                         ``BENCH_QUEUE_REDIS_URL``, likewise; else Django's ImmediateBackend (inline)
"""

import os
from urllib.parse import unquote, urlsplit

SECRET_KEY = os.environ.get("BENCH_SECRET_KEY") or "bench-only-not-a-secret"  # a loopback benchmark's throwaway key
DEBUG = False
ALLOWED_HOSTS = ["127.0.0.1", "localhost", "testserver"]
USE_TZ = True
TIME_ZONE = "America/Mexico_City"
LANGUAGE_CODE = "es"
ROOT_URLCONF = "bench.urls"
WSGI_APPLICATION = "bench.wsgi.application"
DEFAULT_AUTO_FIELD = "django.db.models.BigAutoField"
STATIC_URL = "/static/"

INSTALLED_APPS = [
    "django.contrib.admin",
    "django.contrib.auth",
    "django.contrib.contenttypes",
    "django.contrib.sessions",
    "django.contrib.messages",
    "django.contrib.staticfiles",
    "django_tasks_db",
    "django_orkestapay",
]
if os.environ.get("BENCH_TASKS"):  # the queued sections: the database backend, or RQ as docs/background.rst's recipe
    from bench.queue_backends import task_settings

    _tasks = task_settings(os.environ["BENCH_TASKS"], os.environ.get("BENCH_QUEUE_REDIS_URL", ""))
    INSTALLED_APPS += _tasks.pop("EXTRA_APPS")
    globals().update(_tasks)

# The middleware of a typical shop (the example project's).
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

TEMPLATES = [
    {
        "BACKEND": "django.template.backends.django.DjangoTemplates",
        "DIRS": [],
        "APP_DIRS": True,
        "OPTIONS": {
            "context_processors": [
                "django.template.context_processors.request",
                "django.contrib.auth.context_processors.auth",
                "django.contrib.messages.context_processors.messages",
            ]
        },
    }
]

# Per process unless BENCH_REDIS_URL is set: each gunicorn worker fetches one token and reuses it (the shared Redis
# cache of the fleet runs makes it one in all).
CACHES: dict[str, dict[str, object]] = {"default": {"BACKEND": "django.core.cache.backends.locmem.LocMemCache"}}
if os.environ.get("BENCH_REDIS_URL"):
    _cache_prefix = os.environ.get("BENCH_CACHE_PREFIX", "bench")
    CACHES = {
        "default": {
            "BACKEND": "django.core.cache.backends.redis.RedisCache",
            "LOCATION": os.environ["BENCH_REDIS_URL"],
            "KEY_PREFIX": _cache_prefix,
            "OPTIONS": {"client_name": f"{_cache_prefix}-{os.getpid()}"},
        }
    }


def _database(url: str, conn_max_age: int) -> dict[str, object]:
    parts = urlsplit(url)
    if parts.scheme == "sqlite":
        return {"ENGINE": "django.db.backends.sqlite3", "NAME": unquote(parts.path) or ":memory:"}
    if parts.scheme not in ("postgres", "postgresql"):
        raise ValueError(f"BENCH_DATABASE_URL must be postgres://... or sqlite:///..., not {parts.scheme!r}")
    return {
        "ENGINE": "django.db.backends.postgresql",
        "NAME": parts.path.lstrip("/") or "orkestapay_bench",
        "USER": unquote(parts.username or "postgres"),
        "PASSWORD": unquote(parts.password or ""),
        "HOST": parts.hostname or "127.0.0.1",
        "PORT": str(parts.port or 5432),
        "CONN_MAX_AGE": conn_max_age,
    }


DATABASES = {
    "default": _database(
        os.environ.get("BENCH_DATABASE_URL", "sqlite:////tmp/orkestapay-bench.sqlite3"),
        int(os.environ.get("BENCH_CONN_MAX_AGE", "60")),
    )
}

ORKESTAPAY = {
    "CLIENT_ID": "fake-client-id",
    "CLIENT_SECRET": "fake-client-secret",  # the fake gateway's well-known test credential
    "BASE_URL": os.environ.get("BENCH_GATEWAY_URL", "http://127.0.0.1:8765"),
    "MAX_RETRIES": 0,
    "WEBHOOK_SECRETS": [s for s in [os.environ.get("BENCH_WEBHOOK_SECRET", "")] if s],
}
if os.environ.get("BENCH_TOKEN_LOCK_TIMEOUT"):
    ORKESTAPAY["TOKEN_LOCK_TIMEOUT"] = float(os.environ["BENCH_TOKEN_LOCK_TIMEOUT"])

LOGGING = {
    "version": 1,
    "disable_existing_loggers": False,
    "handlers": {"stderr": {"class": "logging.StreamHandler"}},
    "loggers": {"django_orkestapay": {"handlers": ["stderr"], "level": "WARNING", "propagate": False}},
}
