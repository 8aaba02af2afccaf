"""Submit the trainee's assignment folder to the portal, which stamps its own receipt time and sha256."""
from __future__ import annotations

import os
from datetime import datetime, timezone
from email.utils import parsedate_to_datetime

from nbgrader.exchange.abc import ExchangeSubmit
from traitlets import Int

from academy.exchange.exchange import PortalExchange
from academy.exchange.files import collect_submission

MIB = 1024 * 1024


def _seconds_until(retry_after: str) -> int | None:
    """Return the wait a Retry-After header asks for (seconds or an HTTP date), or None if it says nothing."""
    value = retry_after.strip()
    if value.isdigit():
        return int(value)
    try:
        when = parsedate_to_datetime(value)
    except (TypeError, ValueError):
        return None
    if when.tzinfo is None:  # "-0000": UTC by RFC 5322
        when = when.replace(tzinfo=timezone.utc)
    return max(0, round((when - datetime.now(timezone.utc)).total_seconds()))


class PortalSubmit(PortalExchange, ExchangeSubmit):
    """Upload <assignment>/ (minus checkpoints, feedback, hidden and oversized files) as one submission."""

    max_submission_bytes = Int(
        15 * MIB,
        help="Largest upload sent; the portal refuses requests over its MAX_CONTENT_LENGTH (16 MiB by default).",
    ).tag(config=True)

    def init_src(self):
        self.record = self.find_released(self.coursedir.course_id, self.coursedir.assignment_id)
        self.src_path = self.local_dir(self.coursedir.course_id, self.coursedir.assignment_id)
        if not os.path.isdir(self.src_path):
            name = self.coursedir.assignment_id
            self.fail(f"과제 폴더가 없습니다 / Assignment not found at: {self.src_path}. "
                      f"Fetch it first (Assignments tab, or `nbgrader fetch_assignment {name}`).")

    def copy_files(self):
        limit = min(self.max_submission_bytes, self.coursedir.max_file_size * 1000)
        collected = collect_submission(self.src_path, list(self.coursedir.ignore), limit)
        if collected.skipped_large:
            self.log.warning("Not submitted, larger than %.1f MB each: %s", limit / MIB,
                             ", ".join(collected.skipped_large))
        if collected.skipped_other:
            self.log.info("Not submitted (checkpoints, feedback, hidden or ignored): %s",
                          ", ".join(collected.skipped_other))
        self.check_notebooks(collected.files)
        if collected.size > self.max_submission_bytes:
            largest = sorted(collected.files, key=lambda n: -len(collected.files[n]))[:3]
            self.fail(f"제출물이 너무 큽니다 / The submission is too large ({collected.size / MIB:.1f} MB; the portal "
                      f"accepts {self.max_submission_bytes / MIB:.0f} MB). Largest files: {', '.join(largest)}. "
                      "Remove data files or outputs you do not need and submit again.")
        upload = [("files", (name, blob, "application/octet-stream")) for name, blob in sorted(collected.files.items())]
        reply = self.call("POST", f"/api/exchange/assignments/{self.record['id']}/submit", files=upload,
                          expect=(201, 413, 429))
        if reply.status_code == 429:
            self.fail(self.too_many_text(reply))
        if reply.status_code == 413:
            self.fail(f"제출물이 너무 큽니다 / The portal refused the submission as too large "
                      f"({collected.size / MIB:.1f} MB). Remove large files and submit again.")
        receipt = reply.json()
        self.receipt = receipt
        self.log.info("Submitted as: %s %s %s (sha256 %s, %s)", self.coursedir.course_id,
                      self.coursedir.assignment_id, self.local_timestamp(receipt["received_at"]),
                      receipt.get("sha256", "?"), receipt.get("status_label", receipt.get("status", "")))
        if receipt.get("days_late"):
            self.log.warning("Received %s day(s) after the due date; the course's late policy applies.",
                             receipt["days_late"])

    def too_many_text(self, reply) -> str:
        """Return what the trainee reads on a 429: the portal's own words, else when to retry from Retry-After."""
        text = self.portal_error_text(reply)
        if text:
            return text
        wait = _seconds_until(reply.headers.get("Retry-After", ""))
        when = (f"{wait}초 뒤", f"in {wait} s") if wait is not None else ("잠시 뒤", "in a few minutes")
        return (f"제출이 너무 잦습니다. {when[0]}에 다시 제출하세요. 마지막으로 받은 제출은 그대로 채점됩니다. / "
                f"Too many submissions. Submit again {when[1]}; your last accepted submission is graded as usual.")

    def check_notebooks(self, files: dict[str, bytes]) -> None:
        """Compare the notebooks with the release's, refusing a submission with one missing in strict mode."""
        released = {f"{nb}.ipynb" for nb in self.record.get("notebooks") or []}
        submitted = {name for name in files if name.endswith(".ipynb")}
        missing, extra = sorted(released - submitted), sorted(submitted - released)
        if not (missing or extra):
            return
        diff = (f"Expected: {', '.join(sorted(released)) or '-'}; missing: {', '.join(missing) or '-'}; "
                f"extra: {', '.join(extra) or '-'}")
        if missing and self.strict:
            self.fail(f"Assignment {self.coursedir.assignment_id} not submitted. "
                      f"There are missing notebooks for the submission: {diff}")
        self.log.warning("Possible missing notebooks and/or extra notebooks submitted for assignment %s: %s",
                         self.coursedir.assignment_id, diff)
