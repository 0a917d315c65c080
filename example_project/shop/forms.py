from django import forms
from django.utils.translation import gettext_lazy as _


class BuyerForm(forms.Form):
    first_name = forms.CharField(label=_("First name"), max_length=100, initial="Ana")
    last_name = forms.CharField(label=_("Last name"), max_length=100, initial="López")
    email = forms.EmailField(label=_("Email"), initial="ana@example.com")
    quantity = forms.IntegerField(label=_("Quantity"), min_value=1, max_value=10, initial=1)
