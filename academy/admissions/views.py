"""Pages of the admissions domain."""
from __future__ import annotations

from flask import Blueprint

bp = Blueprint("admissions", __name__)
