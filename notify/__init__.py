"""Notifications to citizens: the outbox written with each state change, its messages, senders and delivery.

A domain service on top of ``archive`` (like ``intake`` and ``signing``, which call :func:`notify.outbox.record`):
no Flask, no Celery. ``worker`` runs :func:`notify.delivery.deliver_due` on a schedule.
"""
