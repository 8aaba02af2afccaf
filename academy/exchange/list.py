"""List what the portal released to the trainee and what they submitted, in the default exchange's shape.

JupyterLab's assignment list (nbgrader's server extension) reads these dicts; the keys and their
meaning match nbgrader.exchange.default.ExchangeList so the list shows Fetch, Submit and the
"view feedback" / "feedback available to fetch" links as it does with the shared-folder exchange.
"""
from __future__ import annotations

import glob
import os
from collections import defaultdict

from nbgrader.exchange.abc import ExchangeList
from traitlets.config import Application

from academy.exchange.settings import hub_user
from academy.exchange.exchange import ExchangeError, PortalExchange, message


class PortalListError(RuntimeError):
    """A failed list inside JupyterLab.

    nbgrader's list handler replaces any ExchangeError by a fixed text about a missing exchange
    directory, which would hide the real reason (sign-in expired, portal unreachable); any other
    exception shows its message to the trainee, so inside the server the list raises this instead.
    """


class PortalList(PortalExchange, ExchangeList):
    """List released assignments (default) or the trainee's own submissions (--cached)."""

    def start(self):
        if self.inbound:
            self.fail(message("instructor_only", what="제출물 수집", what_en="Collecting submissions"))
        if self.remove:
            self.fail("포털은 모든 제출물을 보관하며 지울 수 없습니다 / The portal keeps every submission and "
                      "release; nothing can be removed from the notebook server.")
        try:
            return super().start()
        except ExchangeError as exc:
            if isinstance(self.parent, Application):
                raise  # `nbgrader list` on the command line: it reports ExchangeError itself
            raise PortalListError(str(exc)) from None

    def list_files(self):
        self._records: dict[tuple, dict] = {}
        if self.cached:
            assignments = self.submitted()
            self.log.info("Submitted assignments:")
            for assignment in assignments:
                for info in assignment["submissions"]:
                    self.log.info(self.format_submitted(info))
        else:
            assignments = self.released()
            self.log.info("Released assignments:")
            for info in assignments:
                self.log.info(self.format_released(info))
        return assignments

    # --- released ----------------------------------------------------------------------------

    def released(self) -> list[dict]:
        wanted = self.coursedir.assignment_id if self.coursedir else ""
        items = []
        for record in self.released_assignments(self.coursedir.course_id if self.coursedir else ""):
            if wanted and record["assignment"] != wanted:
                continue
            local = self.local_dir(record["course"], record["assignment"])
            info = {"course_id": record["course"], "assignment_id": record["assignment"]}
            if os.path.exists(local):
                info["status"] = "fetched"
                info["path"] = local
                info["notebooks"] = [
                    {"notebook_id": os.path.splitext(os.path.basename(nb))[0], "path": os.path.abspath(nb)}
                    for nb in sorted(glob.glob(os.path.join(glob.escape(local), "*.ipynb")))
                ]
            else:
                info["status"] = "released"
                info["path"] = f"{self.portal_url.rstrip('/')}/api/exchange/assignments/{record['id']}/release"
                info["notebooks"] = [{"notebook_id": nb, "path": f"{nb}.ipynb"} for nb in record.get("notebooks", [])]
            self._records[(info["course_id"], info["assignment_id"])] = record
            items.append(info)
        return items

    def format_released(self, info: dict) -> str:
        text = f"{info['course_id']} {info['assignment_id']}"
        due = self._records.get((info["course_id"], info["assignment_id"]), {}).get("due_at")
        if due:
            text += f" (due {self.local_timestamp(due)})"
        if info["status"] == "fetched":
            text += " (already downloaded)"
        return text

    # --- submitted ---------------------------------------------------------------------------

    def submitted(self) -> list[dict]:
        course_id = self.coursedir.course_id if self.coursedir else ""
        assignment_id = self.coursedir.assignment_id if self.coursedir else ""
        records = self.my_submissions(course_id, assignment_id)
        released: dict | None = None
        student = hub_user() or ""
        groups: dict[tuple[str, str], list[dict]] = defaultdict(list)
        for record in records:
            key = (record["course"], record["assignment"])
            notebooks = record.get("notebooks")
            if not notebooks:  # an older portal: the release's notebooks stand in for the submission's
                if released is None:
                    released = {(a["course"], a["assignment"]): a.get("notebooks") or []
                                for a in self.released_assignments(course_id)}
                notebooks = released.get(key) or [record["assignment"]]
            info = self.submission_info(record, notebooks, student)
            self._records[(*key, info["timestamp"])] = record
            groups[key].append(info)
        return [
            {"course_id": course, "student_id": student, "assignment_id": assignment, "status": "submitted",
             "submissions": sorted(items, key=lambda x: x["timestamp"])}
            for (course, assignment), items in sorted(groups.items())
        ]

    def submission_info(self, record: dict, notebooks: list[str], student: str) -> dict:
        """Return one submission as the default exchange lists a cached one, feedback flags included."""
        local = self.local_dir(record["course"], record["assignment"])
        timestamp = self.local_timestamp(record["received_at"])
        feedback_dir = os.path.join(local, "feedback", timestamp)
        has_exchange = bool(record.get("has_feedback"))
        nb_infos = []
        for nb in notebooks:
            feedback_file = os.path.join(feedback_dir, f"{nb}.html")
            has_local = os.path.isfile(feedback_file)
            nb_infos.append({
                "notebook_id": nb,
                "path": os.path.join(local, f"{nb}.ipynb"),
                "has_local_feedback": has_local,
                "has_exchange_feedback": has_exchange,
                "local_feedback_path": feedback_file if has_local else None,
                # The portal records a result once, so fetched feedback never goes stale.
                "feedback_updated": False,
            })
        has_local = bool(nb_infos) and all(nb["has_local_feedback"] for nb in nb_infos)
        return {
            "course_id": record["course"],
            "student_id": student,
            "assignment_id": record["assignment"],
            "timestamp": timestamp,
            "status": "submitted",
            "path": local,
            "notebooks": nb_infos,
            "has_local_feedback": has_local,
            "has_exchange_feedback": bool(nb_infos) and has_exchange,
            "feedback_updated": False,
            "local_feedback_path": feedback_dir if has_local else None,
        }

    def format_submitted(self, info: dict) -> str:
        record = self._records.get((info["course_id"], info["assignment_id"], info["timestamp"]), {})
        text = f"{info['course_id']} {info['student_id'] or '-'} {info['assignment_id']} {info['timestamp']}"
        text += f" [{record.get('status_label', record.get('status'))}"
        if record.get("score") is not None:
            text += f", score {record['score']}"
            if record.get("max_points") is not None:
                text += f"/{record['max_points']}"
        text += "]"
        if info["has_local_feedback"] and not info["feedback_updated"]:
            text += " (feedback already fetched)"
        elif info["has_exchange_feedback"]:
            text += " (feedback ready to be fetched)"
        else:
            text += " (no feedback available)"
        return text
