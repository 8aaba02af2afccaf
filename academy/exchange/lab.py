"""Check, Submit and the trainee's courses, for the academy's JupyterLab extension (labextension/).

Routes in the trainee's own notebook server (loaded with academy/exchange/start.py's extension):

- GET  /academy/assignment?path=<notebook>  whether the notebook is an assignment the trainee fetched, and which
  (its folder is in .academy/started.json, or the notebook carries nbgrader's cell metadata); 404 otherwise.
- POST /academy/check   {"path"}  runs the saved notebook's visible tests with nbgrader's validator (what its
  "Validate" does) and answers, per test cell, passed or failed, its points and its visible message.
- POST /academy/submit  {"path"}  submits the assignment's folder through the portal exchange, exactly as nbgrader's
  assignment list does (its own manager and the exchange's PortalSubmit), and answers the portal's receipt.
- GET  /academy/submission?course=&assignment=  the trainee's latest submission of it (state, score, feedback link),
  read from the portal's exchange API with the trainee's own token (the portal lists only their own).
- GET  /academy/courses  what the portal released to the trainee, for the launcher (each with its /academy/start link).
- GET  /academy/tour  copies the dataset tour notebook into the trainee's home unless one is there, and opens it.

The hidden tests never reach this server: the released notebook has none, Check runs only what is in the trainee's
file, and the portal answers a score, never the graded notebook's tests. Like the rest of academy/exchange this
imports only the standard library, nbgrader and Jupyter's own packages.
"""
from __future__ import annotations

import asyncio
import json
import re
import shutil
import threading
from datetime import datetime, timezone
from pathlib import Path
from typing import Any
from urllib.parse import urlencode
from zoneinfo import ZoneInfo, ZoneInfoNotFoundError

from jupyter_server.base.handlers import APIHandler
from jupyter_server.utils import url_path_join
from nbformat import current_nbformat, read as read_nb
from nbgrader import utils as nbgrader_utils
from nbgrader.auth import Authenticator
from nbgrader.coursedir import CourseDirectory
from nbgrader.exchange.abc import ExchangeError
from nbgrader.nbgraderformat import SchemaTooNewError, SchemaTooOldError
from nbgrader.server_extensions.assignment_list.handlers import AssignmentList
from nbgrader.validator import Validator
from tornado import web

from academy.exchange.exchange import PortalExchange
from academy.exchange.settings import portal_public_url, tour_notebook
from academy.exchange.start import NAME, _started

ANSI = re.compile(r"\x1b\[[0-9;]*[A-Za-z]")
MESSAGE_CHARS = 600  # of each test's message shown in the notebook
# One Check or Submit at a time per server: nbgrader's validator and assignment list change the process's
# environment and working folder while they run (its own handlers run them on the server's one thread).
SERIAL = threading.Lock()


def _text(value: Any) -> str:
    return ANSI.sub("", "".join(value) if isinstance(value, list) else str(value or ""))


class CheckValidator(Validator):
    """nbgrader's validator, reporting every visible test cell (its own report lists only the failed ones)."""

    def check(self, filename: str) -> dict[str, Any]:
        path = Path(filename)
        nb = read_nb(str(path), as_version=current_nbformat)
        if self._get_type_changed_cells(nb):
            return {"tests": [], "problem": "type_changed"}
        with nbgrader_utils.chdir(str(path.parent)):
            nb = self._preprocess(nb)
        if not self.ignore_checksums and self._get_changed_cells(nb):
            return {"tests": [], "problem": "changed"}
        tests = []
        for index, cell in enumerate(nb.cells):
            if cell.cell_type != "code" or not nbgrader_utils.is_grade(cell):
                continue
            score, max_score = nbgrader_utils.determine_grade(cell, self.log)
            passed = score is not None and score >= max_score and not nbgrader_utils.has_failed(cell)
            tests.append({"index": index, "name": cell.metadata.nbgrader.get("grade_id", ""), "passed": passed,
                          "points": score or 0, "max_points": max_score or 0, "message": self.message(cell, passed)})
        return {"tests": tests, "problem": ""}

    @staticmethod
    def message(cell, passed: bool) -> str:
        """Return what the test cell said: its error's last line when it failed, else what it printed."""
        errors = [f"{o.get('ename', '')}: {_text(o.get('evalue'))}".strip(": ") for o in cell.outputs
                  if o.output_type == "error"]
        errors += [_text(o.get("text")).strip() for o in cell.outputs
                   if o.output_type == "stream" and o.get("name") == "stderr"]
        printed = [_text(o.get("text")).strip() for o in cell.outputs
                   if o.output_type == "stream" and o.get("name") == "stdout"]
        return "\n".join(filter(None, printed if passed else errors))[:MESSAGE_CHARS]


class LabHandler(APIHandler):
    """Shared helpers: the server's root, the assignment a notebook belongs to, the portal exchange."""

    @property
    def root(self) -> Path:
        return Path(self.settings["server_root_dir"]).expanduser().resolve()

    def notebook(self, path: str) -> Path:
        """Return the notebook at a path relative to the root (400 outside it or when it is not a notebook)."""
        target = (self.root / path.lstrip("/")).resolve()
        if not target.is_relative_to(self.root) or target.suffix != ".ipynb" or not target.is_file():
            raise web.HTTPError(400, "not a notebook in your home folder")
        return target

    def assignment_of(self, notebook: Path) -> tuple[str, str | None] | None:
        """Return (assignment, course or None when unknown) when the notebook is an assignment's, else None."""
        parts = notebook.relative_to(self.root).parts
        if len(parts) != 2 or not NAME.fullmatch(parts[0]):  # nbgrader fetches into <assignment>/<notebook>
            return None
        course = _started(self.root).get(parts[0])
        if course:
            return parts[0], course
        try:
            nb = read_nb(str(notebook), as_version=current_nbformat)
        except Exception:  # an unreadable notebook is not one to check or submit
            return None
        return (parts[0], None) if any("nbgrader" in c.metadata for c in nb.cells) else None

    def nbgrader_config(self):
        manager = AssignmentList(parent=self.settings.get("serverapp"))
        manager.root_dir = str(self.root)
        return manager, manager.load_config()

    def exchange(self) -> PortalExchange:
        _manager, config = self.nbgrader_config()
        return PortalExchange(coursedir=CourseDirectory(config=config), authenticator=Authenticator(config=config),
                              config=config)

    def course_of(self, exchange: PortalExchange, assignment: str) -> str:
        """Return the course of a fetched assignment whose folder has no note of it: the portal's, when unique."""
        courses = sorted({a["course"] for a in exchange.released_assignments() if a["assignment"] == assignment})
        if len(courses) != 1:
            raise ExchangeError(f"{assignment}: 포털에서 이 과제의 과목을 찾지 못했습니다 / the portal does not know "
                                "this assignment's course (open it with 'Start in JupyterLab' in the portal).")
        return courses[0]

    def latest(self, exchange: PortalExchange, course: str, assignment: str) -> dict[str, Any] | None:
        """Return the trainee's latest submission of the assignment as the notebook shows it, or None."""
        subs = exchange.my_submissions(course, assignment)
        if not subs:
            return None
        sub = max(subs, key=lambda s: s.get("received_at") or "")
        received = datetime.fromisoformat(sub["received_at"])
        if received.tzinfo is None:
            received = received.replace(tzinfo=timezone.utc)
        try:
            zone = ZoneInfo(exchange.timezone)
        except (ZoneInfoNotFoundError, ValueError):
            zone = timezone.utc
        return {
            "id": sub["id"], "course": course, "assignment": assignment,
            "received_at": sub["received_at"], "received_local": received.astimezone(zone).strftime("%Y-%m-%d %H:%M:%S"),
            "status": sub.get("status"), "status_label": sub.get("status_label"),
            "score": sub.get("score"), "max_points": sub.get("max_points"), "late_penalty": sub.get("late_penalty"),
            "feedback_url": f"{portal_public_url().rstrip('/')}/my/submissions/{sub['id']}/feedback",
        }

    def answer(self, status: int, body: Any) -> None:
        self.set_status(status)
        self.finish(json.dumps(body))

    async def off_loop(self, fn, *args):
        """Run a blocking call (the portal, a kernel) in a thread, so the server keeps answering meanwhile."""
        return await asyncio.get_running_loop().run_in_executor(None, fn, *args)


class AssignmentHandler(LabHandler):
    @web.authenticated
    def get(self) -> None:
        found = self.assignment_of(self.notebook(self.get_argument("path", "")))
        if found is None:
            self.answer(404, {"error": "not an assignment"})
            return
        self.answer(200, {"assignment": found[0], "course": found[1]})


class CheckHandler(LabHandler):
    @web.authenticated
    async def post(self) -> None:
        notebook = self.notebook(str((self.get_json_body() or {}).get("path", "")))
        if self.assignment_of(notebook) is None:
            self.answer(404, {"error": "not an assignment"})
            return
        try:
            result = await self.off_loop(self._check, notebook)
        except (SchemaTooOldError, SchemaTooNewError) as exc:
            self.answer(422, {"error": f"nbgrader: {exc}"})
            return
        self.answer(200, result)

    def _check(self, notebook: Path) -> dict[str, Any]:
        _manager, config = self.nbgrader_config()
        with SERIAL:
            return CheckValidator(config=config).check(str(notebook))


class SubmitHandler(LabHandler):
    @web.authenticated
    async def post(self) -> None:
        notebook = self.notebook(str((self.get_json_body() or {}).get("path", "")))
        found = self.assignment_of(notebook)
        if found is None:
            self.answer(404, {"error": "not an assignment"})
            return
        try:
            receipt = await self.off_loop(self._submit, *found)
        except ExchangeError as exc:
            self.answer(502, {"error": str(exc)})
            return
        self.answer(201, receipt)

    def _submit(self, assignment: str, course: str | None) -> dict[str, Any]:
        exchange = self.exchange()
        course = course or self.course_of(exchange, assignment)
        manager, _config = self.nbgrader_config()
        with SERIAL:
            result = manager.submit_assignment(course, assignment)  # the assignment list's own Submit
        if not result.get("success"):
            lines = str(result.get("value") or "").strip().splitlines()
            raise ExchangeError(re.sub(r"^[\w.]+(Error|Exception): ", "", lines[-1]) if lines else "submit failed")
        latest = self.latest(exchange, course, assignment)
        if latest is None:
            raise ExchangeError("제출했지만 포털에 보이지 않습니다 / submitted, but the portal does not list it yet")
        return latest


class SubmissionHandler(LabHandler):
    @web.authenticated
    async def get(self) -> None:
        course, assignment = self.get_argument("course", ""), self.get_argument("assignment", "")
        if not NAME.fullmatch(course) or not NAME.fullmatch(assignment):
            self.answer(400, {"error": "course and assignment are needed"})
            return
        try:
            latest = await self.off_loop(lambda: self.latest(self.exchange(), course, assignment))
        except ExchangeError as exc:
            self.answer(502, {"error": str(exc)})
            return
        self.answer(200 if latest else 404, latest or {"error": "no submission yet"})


class CoursesHandler(LabHandler):
    @web.authenticated
    async def get(self) -> None:
        try:
            released = await self.off_loop(lambda: self.exchange().released_assignments())
        except ExchangeError as exc:
            self.answer(502, {"error": str(exc)})
            return
        start = url_path_join(self.base_url, "academy", "start")
        self.answer(200, {"assignments": [{
            "course": a["course"], "assignment": a["assignment"], "title_ko": a.get("title_ko") or a["assignment"],
            "title_en": a.get("title_en") or a["assignment"], "due_at": a.get("due_at"),
            "start_url": f"{start}?{urlencode({'course': a['course'], 'assignment': a['assignment']})}",
        } for a in released]})


class TourHandler(LabHandler):
    @web.authenticated
    def get(self) -> None:
        source = Path(tour_notebook())
        target = self.root / source.name
        if not target.exists():  # the trainee's own copy, run or changed, is never replaced
            if not source.is_file():
                raise web.HTTPError(404, "the dataset tour notebook is not installed on this server")
            shutil.copyfile(source, target)
        self.redirect(url_path_join(self.base_url, "lab", "tree", source.name))


def _jupyter_server_extension_points() -> list[dict[str, Any]]:
    return [{"module": "academy.exchange.lab"}]


def _load_jupyter_server_extension(serverapp: Any) -> None:
    base_url = serverapp.web_app.settings["base_url"]
    serverapp.web_app.add_handlers(".*$", [(url_path_join(base_url, "academy", name), handler) for name, handler in (
        ("assignment", AssignmentHandler), ("check", CheckHandler), ("submit", SubmitHandler),
        ("submission", SubmissionHandler), ("courses", CoursesHandler),
        ("tour", TourHandler))])
