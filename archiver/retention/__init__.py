"""Retention: schedule files, classification of items into series, retain-until dates, holds,
disposition and destruction certificates. Layered over catalog, storage and vault; the use
cases in `archiver.services.retention` and `archiver.services.holds` are what the CLI calls.
"""
