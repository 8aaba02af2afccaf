"""Outcome figures for the academy office: placement, offers, unfilled demands and retention."""
