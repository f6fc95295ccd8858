"""The citizen's public status inquiry (tracking number plus the receipt's access code)."""

from web.inquiry.views import bp

__all__ = ["bp"]
