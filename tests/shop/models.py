"""A tiny shop model, for linking orders to shop objects in tests."""

from django.db import models


class Cart(models.Model):
    reference = models.CharField(max_length=32)

    def __str__(self) -> str:
        return self.reference
