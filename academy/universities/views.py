"""The academy office's universities and cohorts."""
from __future__ import annotations

from flask import Blueprint

bp = Blueprint("universities", __name__)
