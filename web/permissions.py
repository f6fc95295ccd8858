"""Every view declares who may use it: ``@requires(Permission.X)`` or ``@public``.

The declaration is checked twice: the decorator enforces it, and a ``before_request`` hook refuses any endpoint
that declares nothing (fail closed), so a new view without a declaration cannot leak. A test walks the URL map to
make sure every endpoint carries one.
"""

from __future__ import annotations

import functools
import logging
from collections.abc import Callable
from typing import Any, TypeVar

from flask import Flask, abort, current_app, g, redirect, request, url_for
from flask.typing import ResponseReturnValue
from flask_login import current_user

from archive.roles import Permission
from web.auth.principal import StaffPrincipal

F = TypeVar("F", bound=Callable[..., Any])
ACCESS_ATTR = "_sijill_access"
PUBLIC = "public"
# Endpoints registered by libraries rather than by us.
LIBRARY_PUBLIC_ENDPOINTS = frozenset({"static", "api-docs.openapi_json"})
log = logging.getLogger(__name__)


def public(view: F) -> F:
    """Open to anyone, logged in or not (login page, health, public verification)."""
    setattr(view, ACCESS_ATTR, PUBLIC)
    return view


def is_api_request() -> bool:
    return request.path.startswith("/api/")


def current_principal() -> StaffPrincipal | None:
    """The authenticated staff member: from the bearer token for the API, from the session for pages."""
    if is_api_request():
        principal: StaffPrincipal | None = g.get("api_principal")
        return principal
    if current_user.is_authenticated:
        user: StaffPrincipal = current_user._get_current_object()
        return user
    return None


def requires(*permissions: Permission) -> Callable[[F], F]:
    """Allow the view only to a logged-in user holding every one of ``permissions``."""
    if not permissions:
        raise ValueError("requires() needs at least one permission; use @public for open views.")

    def decorate(view: F) -> F:
        @functools.wraps(view)
        def wrapper(*args: Any, **kwargs: Any) -> Any:
            principal = current_principal()
            if principal is None:
                if is_api_request():
                    abort(401)
                return redirect(url_for("auth.login", next=request.full_path.rstrip("?")))
            if not all(principal.can(p) for p in permissions):
                abort(403)
            return view(*args, **kwargs)

        setattr(wrapper, ACCESS_ATTR, tuple(permissions))
        return wrapper  # type: ignore[return-value]

    return decorate


def access_of(view: Callable[..., Any] | None) -> object:
    return getattr(view, ACCESS_ATTR, None)


def install(app: Flask) -> None:
    @app.before_request
    def refuse_undeclared() -> ResponseReturnValue | None:
        endpoint = request.endpoint
        if endpoint is None or endpoint in LIBRARY_PUBLIC_ENDPOINTS:
            return None
        if access_of(current_app.view_functions.get(endpoint)) is None:
            log.error("endpoint %s declares no permission; refusing", endpoint)
            abort(403)
        return None
