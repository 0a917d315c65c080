"""The buyer's form. Its error messages are the shop's own: Django's Spanish ones speak to the buyer as *usted*
("Introduzca una dirección de correo electrónico válida"), the shop as *tú*, so every message a buyer can get from
this form is written here and translated in the shop's catalogue."""

from django import forms
from django.utils.translation import gettext_lazy as _

#: The message for a name over its length (Django's: "Asegúrese de que este valor tenga menos de...").
TOO_LONG = _("Use at most %(limit_value)d characters (this has %(show_value)d).")


class BuyerForm(forms.Form):
    first_name = forms.CharField(
        label=_("First name"),
        max_length=100,
        initial="Ana",
        error_messages={"required": _("Write your first name."), "max_length": TOO_LONG},
    )
    last_name = forms.CharField(
        label=_("Last name"),
        max_length=100,
        initial="López",
        error_messages={"required": _("Write your last name."), "max_length": TOO_LONG},
    )
    email = forms.EmailField(
        label=_("Email"),
        initial="ana@example.com",
        error_messages={
            "required": _("Write your email address."),
            "invalid": _("Write a valid email address, such as ana@example.com."),
            "max_length": TOO_LONG,
        },
    )
    quantity = forms.IntegerField(
        label=_("Quantity"),
        min_value=1,
        max_value=10,
        initial=1,
        error_messages={
            "required": _("Write how many you want."),
            "invalid": _("Write a whole number, such as 1 or 2."),
            "min_value": _("Choose at least %(limit_value)s."),
            "max_value": _("You can buy at most %(limit_value)s at a time."),
        },
    )
