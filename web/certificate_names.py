"""A certificate's subject as a reader's list of fields: «الاسم الشائع: …، المؤسسة: …، الدولة: مصر».

The stored ``subject`` text is asn1crypto's English rendering ("Common Name: …, Country: EG"), which mixes English
field names into an Arabic page and cannot be split back safely (values may hold commas); so the fields are read
from the registered certificate itself, named from ``archive.labels.CERTIFICATE_NAME_FIELDS`` in the interface
language, and a country code becomes the country's name from CLDR (Babel).
"""

from __future__ import annotations

from asn1crypto import x509
from babel import Locale
from flask_babel import get_locale

from archive import labels

COUNTRY_FIELDS = frozenset({"country_name", "incorporation_country"})


def subject_fields(certificate_der: bytes) -> list[tuple[str, str]]:
    """(field name, value) pairs of the certificate's subject, in the certificate's order; [] if it cannot be read."""
    try:
        native = x509.Certificate.load(certificate_der).subject.native
    except (ValueError, TypeError):
        return []
    locale = get_locale() or Locale("ar")
    arabic = str(locale) == "ar"
    fields: list[tuple[str, str]] = []
    for key, value in native.items():
        values = value if isinstance(value, list) else [value]
        name = labels.name_of(labels.CERTIFICATE_NAME_FIELDS, key, arabic)
        for item in values:
            text = str(item)
            if key in COUNTRY_FIELDS:
                text = locale.territories.get(text.upper(), text)
            fields.append((name, text))
    return fields
