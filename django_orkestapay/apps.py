"""App configuration."""

from django.apps import AppConfig
from django.utils.translation import gettext_lazy as _


class OrkestaPayConfig(AppConfig):
    """The ``orkestapay`` app: its label names tables, the URL namespace and check ids."""

    name = "django_orkestapay"
    label = "orkestapay"
    verbose_name = _("OrkestaPay")
    default_auto_field = "django.db.models.BigAutoField"
