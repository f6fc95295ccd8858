"""The request class of the app: a multipart part without a field name is a clear 400, never a crash later.

werkzeug keeps a ``Content-Disposition: form-data`` part that has no ``name`` under the key ``None``; every view
that walks ``request.form`` or ``request.files`` by name (``name.startswith("doc.")``) would then fail with an
``AttributeError``. Such a part can only come from a broken or hostile client, so it is refused here, once, for
every form and API endpoint, before any view sees the request.
"""

from __future__ import annotations

from flask import Request

from web.errors import N_, ExplainedError

NAMELESS_PART = (
    N_("الطلب المرسل غير سليم: فيه جزء بلا اسم حقل. لم يُسجَّل شيء."),
    "The multipart request has a part without a field name; nothing was recorded.",
)


class SijillRequest(Request):
    """Flask's request, refusing form data whose field names are missing or empty."""

    def _load_form_data(self) -> None:
        super()._load_form_data()
        nameless = False
        for attribute in ("form", "files"):
            data = self.__dict__.get(attribute)
            if data is not None and any(not isinstance(key, str) or not key for key in data.keys()):
                nameless = True
                # a later look at request.form (after someone caught the error) sees only the named fields
                self.__dict__[attribute] = type(data)(
                    (key, value) for key, value in data.items(multi=True) if isinstance(key, str) and key
                )
        if nameless:
            raise ExplainedError(400, *NAMELESS_PART, "nameless_form_field")
