"""Scheduled work: the portal's periodic jobs (offer expiry, reminders, the retention purge, the grading requeue).

Celery beat (academy.scheduled.celery_app) fires each job on its schedule, on the portal's own queue, where a
worker started with the portal's settings runs it inside the portal's application. `flask academy scheduled run
JOB` runs one by hand. Every job is safe to run twice: a second run finds nothing left to do.
"""
