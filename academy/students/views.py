"""Pages of the students domain."""
from __future__ import annotations

from flask import Blueprint

bp = Blueprint("students", __name__)
