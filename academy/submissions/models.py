"""A submission: kept forever, stamped with the portal's clock and the sha256 of what arrived."""
from __future__ import annotations

from datetime import datetime
from enum import StrEnum

import sqlalchemy as sa
from sqlalchemy.orm import Mapped, mapped_column, relationship

from academy.courses.models import Assignment
from academy.extensions import db
from academy.util import UTCDateTime


class SubmissionStatus(StrEnum):
    QUEUED = "queued"
    GRADING = "grading"
    GRADED = "graded"
    TIME_LIMIT = "time_limit"
    MEMORY_LIMIT = "memory_limit"
    ERROR = "error"
    # A newer submission of the same work arrived before this one's job was handed to a worker: never graded,
    # kept as a record.
    SUPERSEDED = "superseded"


class Submission(db.Model):
    __tablename__ = "submissions"
    __table_args__ = (
        sa.CheckConstraint(
            "status IN ('queued','grading','graded','time_limit','memory_limit','error','superseded')",
            name="submission_status_valid",
        ),
        sa.CheckConstraint("late_penalty >= 0", name="submission_penalty_positive"),
    )

    id: Mapped[int] = mapped_column(primary_key=True)
    assignment_id: Mapped[int] = mapped_column(sa.ForeignKey("assignments.id", ondelete="CASCADE"), index=True)
    student_id: Mapped[int] = mapped_column(sa.ForeignKey("users.id"), index=True)
    # The portal's clock at receipt; whatever time the trainee's files claim is ignored.
    received_at: Mapped[datetime] = mapped_column(UTCDateTime())
    sha256: Mapped[str] = mapped_column(sa.String(64))
    # Relative to ACADEMY_VAR_DIR so the store can move with the data directory.
    stored_path: Mapped[str] = mapped_column(sa.String(400))
    # Bytes of the submitted files as stored, plus a block per file: what the trainee's storage allowance counts.
    size_bytes: Mapped[int] = mapped_column(sa.BigInteger, default=0, server_default="0")
    status: Mapped[str] = mapped_column(sa.String(20), default=SubmissionStatus.QUEUED)
    days_late: Mapped[int] = mapped_column(default=0)
    auto_score: Mapped[float | None] = mapped_column()
    late_penalty: Mapped[float] = mapped_column(default=0.0)
    feedback_path: Mapped[str | None] = mapped_column(sa.String(400))
    message: Mapped[str] = mapped_column(sa.Text, default="")
    job_id: Mapped[str | None] = mapped_column(sa.String(80))
    # When the portal handed this submission to the grading queue (claimed it); None while it waits in the
    # portal behind the trainee's job in the queue, or after the queue refused it.
    queued_at: Mapped[datetime | None] = mapped_column(UTCDateTime())
    graded_at: Mapped[datetime | None] = mapped_column(UTCDateTime())

    assignment: Mapped[Assignment] = relationship()

    def __repr__(self) -> str:
        return f"<Submission {self.id} a={self.assignment_id} s={self.student_id} {self.status}>"


class SubmissionCell(db.Model):
    """The automatic score of one test cell of a graded submission, as the grader reported it (before scaling
    to the assignment's points): for an assignment's per-test export and the tests trainees fail most."""

    __tablename__ = "submission_cells"

    submission_id: Mapped[int] = mapped_column(sa.ForeignKey("submissions.id", ondelete="CASCADE"), primary_key=True)
    notebook: Mapped[str] = mapped_column(sa.String(200), primary_key=True)
    grade_id: Mapped[str] = mapped_column(sa.String(200), primary_key=True)
    position: Mapped[int] = mapped_column(default=0)  # the cell's order in the grader's report
    score: Mapped[float] = mapped_column()
    max_score: Mapped[float] = mapped_column()

    def __repr__(self) -> str:
        return f"<SubmissionCell s={self.submission_id} {self.notebook}/{self.grade_id} {self.score}/{self.max_score}>"
