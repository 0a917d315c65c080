"""django-orkestapay: take payments through the OrkestaPay hosted checkout."""

__version__ = "0.1.0"
