"""Governance: whether services finish within their legal duration (figures, charts, periodic reports).

A domain service on top of ``archive`` (reads applications, transitions and steps; writes report files to the store
with a row each). Uses ``intake.national_id`` for governorate names only. No Flask, no Celery.
"""
