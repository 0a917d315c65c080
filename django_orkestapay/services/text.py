"""Text an order stores and sends to OrkestaPay: no NUL or other control character, on every database.

PostgreSQL refuses NUL in text and JSON (a 500 where SQLite would store it), neither can store a lone surrogate,
and control characters in a name or a reference are never what the shop meant: they come from a broken import, a
copy and paste, or someone probing. So they are refused with a ``ValidationError`` naming the field (the pay view
answers it with its 400 page), before anything is stored or sent. Ordinary whitespace is allowed only where it
makes sense: tab, newline and carriage return in descriptions; nowhere in names (one line), references, e-mail
addresses, locales, currencies or URLs.
"""

from __future__ import annotations

import unicodedata

from django.core.exceptions import ValidationError

#: Unicode categories refused: control characters (C0, DEL, C1) and surrogates (not text on their own).
_REFUSED_CATEGORIES = frozenset({"Cc", "Cs"})
#: The whitespace a multi-line text may hold.
_LINE_WHITESPACE = frozenset("\t\n\r")


def validate_text(value: object, field: str, *, group: str | None = None, multiline: bool = False) -> None:
    """Raise ``ValidationError`` (under ``group`` or ``field``) when the string ``value`` holds a control character
    or a surrogate; ``multiline`` allows tab, newline and carriage return. Anything but a string is left to the
    model's own validation."""
    if not isinstance(value, str):
        return
    allowed = _LINE_WHITESPACE if multiline else frozenset()
    for position, char in enumerate(value):
        if unicodedata.category(char) in _REFUSED_CATEGORIES and char not in allowed:
            raise ValidationError(
                {group or field: f"{field} holds a control character (U+{ord(char):04X}) at position {position}."}
            )
