"""Celery app and tasks: load ids, call ports, call app.triage, persist."""
