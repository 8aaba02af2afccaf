"""Fetch a released assignment and the feedback on the trainee's submissions from the portal."""
from __future__ import annotations

import hashlib
import os

from nbgrader.exchange.abc import ExchangeFetchAssignment, ExchangeFetchFeedback

from academy.exchange.exchange import PortalExchange
from academy.exchange.files import UnsafeArchive, read_release, write_release


class PortalFetchAssignment(PortalExchange, ExchangeFetchAssignment):
    """Download the released (student) version into <assignment>/, never overwriting the trainee's work."""

    def init_src(self):
        self.record = self.find_released(self.coursedir.course_id, self.coursedir.assignment_id)

    def init_dest(self):
        self.dest_path = self.local_dir(self.coursedir.course_id, self.coursedir.assignment_id)
        if os.path.exists(self.dest_path) and not self.replace_missing_files:
            self.fail(
                f"이미 과제 폴더가 있습니다 / You already have a copy of the assignment in this directory: "
                f"{os.path.relpath(self.dest_path)}. Nothing was changed. To restore files you deleted, run "
                f"`nbgrader fetch_assignment {self.coursedir.assignment_id} --replace-missing-files`; "
                f"for a fresh copy, rename the folder first."
            )

    def copy_files(self):
        reply = self.call("GET", f"/api/exchange/assignments/{self.record['id']}/release", expect=(200, 404))
        if reply.status_code == 404:
            self.fail(f"과제 {self.coursedir.assignment_id}은(는) 공개되지 않았습니다 / Assignment "
                      f"{self.coursedir.assignment_id} is not released to you (any more).")
        expected = reply.headers.get("X-Release-Sha256", "").strip().lower()
        if expected and hashlib.sha256(reply.content).hexdigest() != expected:
            self.fail("다운로드가 손상되었습니다. 다시 시도하세요 / The download was damaged on the way "
                      "(checksum mismatch). Retry.")
        try:
            entries = read_release(reply.content)
            written = write_release(entries, self.dest_path)
        except UnsafeArchive as exc:
            self.fail(f"The portal's release of {self.coursedir.assignment_id} was refused ({exc}); "
                      "nothing was written. Tell the academy office.")
        kept = sorted(n for n, blob in entries.items() if blob is not None and n not in written)
        for name in written:
            self.log.info("Fetched %s", os.path.join(os.path.relpath(self.dest_path), name))
        if kept:
            self.log.warning("Kept your own copy of: %s", ", ".join(kept))
        self.log.info("Fetched as: %s %s", self.coursedir.course_id, self.coursedir.assignment_id)


class PortalFetchFeedback(PortalExchange, ExchangeFetchFeedback):
    """Write each submission's feedback to <assignment>/feedback/<receipt time>/<notebook>.html."""

    def init_src(self):
        assignment_id = self.coursedir.assignment_id
        self.submissions = self.my_submissions(self.coursedir.course_id, assignment_id)
        if not self.submissions:
            self.log.warning("No submissions of %s found.", assignment_id or "any assignment")

    def copy_files(self):
        fetched = 0
        for record in self.submissions:
            if not record.get("has_feedback"):
                self.log.warning("No feedback yet for %s submitted at %s (%s).", record["assignment"],
                                 self.local_timestamp(record["received_at"]),
                                 record.get("status_label", record.get("status")))
                continue
            reply = self.call("GET", f"/api/exchange/submissions/{record['id']}/feedback", expect=(200, 404))
            if reply.status_code == 404:
                continue  # withdrawn between the list and now
            folder = os.path.join(self.local_dir(record["course"], record["assignment"]), "feedback",
                                  self.local_timestamp(record["received_at"]))
            os.makedirs(folder, exist_ok=True)
            # The portal makes one document for the whole submission; each notebook links to it.
            for notebook in record.get("notebooks") or [record["assignment"]]:
                path = os.path.join(folder, f"{os.path.basename(notebook)}.html")
                with open(path, "wb") as fh:
                    fh.write(reply.content)
                self.log.info("Fetched feedback: %s", os.path.relpath(path))
                fetched += 1
        if self.submissions and not fetched:
            self.log.warning("No feedback available yet.")
