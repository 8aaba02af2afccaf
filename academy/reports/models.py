"""The version of the data each report summarises, shared by every portal process through the database."""
from __future__ import annotations

import sqlalchemy as sa
from sqlalchemy.orm import Mapped, mapped_column

from academy.extensions import db


class ReportDataVersion(db.Model):
    """One report's data version: a new random token whenever a transaction that changed one of the report's
    tables commits (academy/reports/cache.py). Figures cached under a token hold while it is current."""

    __tablename__ = "report_data_versions"

    name: Mapped[str] = mapped_column(sa.String(20), primary_key=True)  # "progress" or "outcomes"
    token: Mapped[str] = mapped_column(sa.String(32))

    def __repr__(self) -> str:
        return f"<ReportDataVersion {self.name} {self.token}>"
