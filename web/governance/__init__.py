"""The governance centre's dashboard and its reports archive (monitor role)."""

from web.governance.views import bp

__all__ = ["bp"]
