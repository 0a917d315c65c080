"""``{% load shop_tags %}``: ``{% native_languages as languages %}``, the ``LANGUAGES`` setting's codes with the
names it gives them, untranslated, so the picker reads "English" and "Español" whatever the active language (Django's
``get_available_languages`` translates them: "Inglés")."""

from django import template
from django.conf import settings

register = template.Library()


@register.simple_tag
def native_languages() -> list[tuple[str, str]]:
    """Each language of the shop with its name in that language."""
    return [(code, str(name)) for code, name in settings.LANGUAGES]
