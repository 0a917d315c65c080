"""The example shop's catalogue, and its purchases: the row each order pays for.

An order is linked to the buyer's :class:`Purchase`, never to the :class:`Product`: a product is bought again and
again, by many buyers, while a purchase is paid once (the app's "paid twice" check compares orders of one shop
object, so orders linked to a product would make every repeat buyer's payment look like a duplicate)."""

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


class Purchase(models.Model):
    """One buyer's purchase of a product: what the buy form made, and what its order pays for."""

    product = models.ForeignKey(Product, models.PROTECT, related_name="purchases", verbose_name=_("product"))
    quantity = models.PositiveIntegerField(_("quantity"))
    first_name = models.CharField(_("first name"), max_length=100)
    last_name = models.CharField(_("last name"), max_length=100)
    email = models.EmailField(_("email"))
    created_at = models.DateTimeField(_("created"), auto_now_add=True)

    class Meta:
        verbose_name = _("purchase")
        verbose_name_plural = _("purchases")

    def __str__(self) -> str:
        return f"{self.quantity} x {self.product} ({self.email})"
