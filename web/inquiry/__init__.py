"""The citizen's public status inquiry (tracking number plus the last four digits of the national ID)."""

from web.inquiry.views import bp

__all__ = ["bp"]
