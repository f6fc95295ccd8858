"""Public verification of permits: the page the QR code opens, the check of an uploaded copy (no login)."""

from web.verify import views
from web.verify.views import bp

__all__ = ["bp", "views"]
