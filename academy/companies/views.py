"""Pages of the companies domain."""
from __future__ import annotations

from flask import Blueprint

bp = Blueprint("companies", __name__)
