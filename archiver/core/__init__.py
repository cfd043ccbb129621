"""Foundations every layer may import: settings, errors, data models, logging, clock, credentials."""
