"""Notifications: each one kept in the portal (the bell and its list) and, where the person allows, e-mailed."""
