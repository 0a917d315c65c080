"""The example shop's catalogue."""

from decimal import Decimal

from django.db import models
from django.utils.translation import gettext_lazy as _


class Product(models.Model):
    slug = models.SlugField(_("slug"), unique=True)
    name = models.CharField(_("name"), max_length=200)
    description = models.TextField(_("description"), blank=True)
    price = models.DecimalField(_("price"), max_digits=12, decimal_places=2)
    shipping = models.DecimalField(_("shipping"), max_digits=12, decimal_places=2, default=Decimal("0"))
    discount = models.DecimalField(_("discount per unit"), max_digits=12, decimal_places=2, default=Decimal("0"))
    currency = models.CharField(_("currency"), max_length=3, default="MXN")

    class Meta:
        verbose_name = _("product")
        verbose_name_plural = _("products")

    def __str__(self) -> str:
        return self.name
