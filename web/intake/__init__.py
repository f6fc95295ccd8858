"""Intake pages: register an application at the window, list and open applications, downloads, public tracking."""

from web.intake.views import bp

__all__ = ["bp"]
