"""Routing at the officials' desks: the inbox, decisions, reassignment, resubmission, signing and revocation."""

from web.decisions.views import bp

__all__ = ["bp"]
