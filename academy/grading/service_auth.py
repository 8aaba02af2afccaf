"""Moved to academy.gradebook.service_auth (the portal's check of service tokens is not the worker's).

Kept only until academy/submissions/views.py imports require_grader_token from there; then delete this file.
"""
from academy.gradebook.service_auth import require_grader_token  # noqa: F401
