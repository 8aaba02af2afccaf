"""Send the grades instructors enter in a course's formgrader to the portal's gradebook.

Autograding reports its own scores (academy.grading.report). Answers graded by hand exist only in the
course gradebook that the formgrader writes, so this reads that gradebook and, for each submission
with at least one hand-entered score whose total changed since it was last sent, POSTs the total to
the portal (ACADEMY_PORTAL_URL/api/grading/manual, header X-Academy-Grader-Token = ACADEMY_SYNC_TOKEN).

    python -m academy.grading.manual_sync --course-dir courses/manufacturing-ai --every 30   # the hub's service
    python -m academy.grading.manual_sync --course-dir courses/manufacturing-ai              # one pass

One sync per course: its token (the hub derives it; `flask --app wsgi grading service-token manual
--course CODE` prints it) lets it post that course's totals and nothing else. The course's settings are
read as data (academy.integrations.course_config): nothing in the course folder is run.

A state file remembers what the portal accepted, so an unchanged total is never sent twice. When the
portal is down or refuses the token, the pass stops and nothing is marked sent: the next pass retries.
While the trainee's newest submission still awaits its autograde report the portal answers 409 and the
total is sent again next pass, so the worker's later report cannot overwrite it.
"""
from __future__ import annotations

import argparse
import hashlib
import json
import logging
import os
import time
from collections.abc import Iterator
from dataclasses import asdict, dataclass, field
from pathlib import Path

import requests
from nbgrader.api import Gradebook

from academy.grading.gradebook_sync import sqlite_path
from academy.grading.settings import settings
from academy.integrations.course_config import course_id, default_gradebook_path, gradebook_url, read_settings
from academy.integrations.service_tokens import TOKEN_HEADER

ENDPOINT = "/api/grading/manual"
log = logging.getLogger("academy.grading.manual_sync")


@dataclass(frozen=True)
class ManualTotal:
    """A submission's total in the course gradebook, hand-entered scores included."""

    course: str
    assignment: str
    student: str  # the portal user id
    score: float  # nbgrader's total: manual score where given, else the autograde score, plus extra credit
    max_score: float
    manually_graded: int  # cells with a hand-entered score or extra credit
    needs_manual_grade: list[str] = field(default_factory=list)  # "notebook/cell" still to grade by hand

    @property
    def key(self) -> str:
        return f"{self.course}/{self.assignment}/{self.student}"

    def to_dict(self) -> dict:
        return asdict(self)

    def fingerprint(self) -> str:
        return hashlib.sha256(json.dumps(self.to_dict(), sort_keys=True).encode()).hexdigest()


@dataclass
class PassReport:
    """What one pass did."""

    sent: list[str] = field(default_factory=list)
    unchanged: int = 0
    rejected: list[str] = field(default_factory=list)  # the portal answered 404/422: retried when it changes
    waiting: list[str] = field(default_factory=list)  # 409: the newest submission is still being autograded
    unreadable: list[str] = field(default_factory=list)  # course folders whose config or gradebook failed
    stopped: str | None = None  # why the pass stopped early (portal down, token refused)


def course_gradebook(course_dir: Path) -> tuple[str, str]:
    """Return (db_url, course_id) of the course: the platform's gradebook, the course id read as data."""
    return gradebook_url(Path(course_dir)), course_id(Path(course_dir), read_settings(Path(course_dir)))


def read_totals(db_url: str, course_id: str, course: str | None = None) -> Iterator[ManualTotal]:
    """Yield the total of every submission of the course that has a hand-entered score.

    course_id is the nbgrader course id inside the gradebook; course (default: the same) is the name the
    portal knows the course by, its nbgrader folder.
    """
    path = sqlite_path(db_url)
    if path is not None and not path.exists():
        return  # no gradebook yet; opening it would create one in the course folder
    with Gradebook(db_url, course_id) as gb:
        for assignment in gb.assignments:
            if assignment.course_id != course_id:
                continue
            for sub in assignment.submissions:
                grades = [(nb.name, g) for nb in sub.notebooks for g in nb.grades]
                by_hand = [g for _nb, g in grades if g.manual_score is not None or g.extra_credit]
                if not by_hand:
                    continue  # autograde's own report already carries this submission's score
                yield ManualTotal(
                    course=course or course_id, assignment=assignment.name, student=sub.student.id,
                    score=round(float(sub.score), 4), max_score=round(float(sub.max_score), 4),
                    manually_graded=len(by_hand),
                    needs_manual_grade=sorted(f"{nb}/{g.name}" for nb, g in grades if g.needs_manual_grade),
                )


class SyncState:
    """The fingerprint of each total the portal accepted, kept in a JSON file."""

    def __init__(self, path: Path):
        self.path = Path(path)
        try:
            self.sent: dict[str, str] = json.loads(self.path.read_text(encoding="utf-8"))
        except FileNotFoundError:
            self.sent = {}
        except ValueError:
            log.warning("state file %s is unreadable; every total is sent again", self.path)
            self.sent = {}

    def mark(self, key: str, fingerprint: str) -> None:
        self.sent[key] = fingerprint
        self.path.parent.mkdir(parents=True, exist_ok=True)
        staging = self.path.with_name(self.path.name + ".tmp")
        staging.write_text(json.dumps(self.sent, sort_keys=True, indent=0), encoding="utf-8")
        os.replace(staging, self.path)  # a crash leaves the old file or the new one, never half of one


def sync_once(course_dirs: list[Path], state: SyncState, portal_url: str, token: str,
              session: requests.Session | None = None, rejected: dict[str, str] | None = None) -> PassReport:
    """Send every changed total of the courses to the portal once; stop at the first portal failure.

    rejected remembers, for the life of the loop, totals the portal refused (unknown trainee,
    assignment or course), so they are not sent every round; they are sent again once they change.
    """
    session = session or requests.Session()
    rejected = {} if rejected is None else rejected
    report = PassReport()
    url = portal_url.rstrip("/") + ENDPOINT
    for course_dir in course_dirs:
        try:
            # Read the whole course first: no gradebook transaction stays open while the portal answers.
            totals = list(read_totals(*course_gradebook(course_dir), Path(course_dir).name))
        except Exception:  # noqa: BLE001 - one broken course must not hold up the others
            log.exception("cannot read the gradebook of %s", course_dir)
            report.unreadable.append(str(course_dir))
            continue
        for total in totals:
            fingerprint = total.fingerprint()
            if state.sent.get(total.key) == fingerprint or rejected.get(total.key) == fingerprint:
                report.unchanged += 1
                continue
            try:
                response = session.post(url, json=total.to_dict(), headers={TOKEN_HEADER: token}, timeout=30)
            except requests.RequestException as exc:
                report.stopped = f"portal unreachable: {exc.__class__.__name__}"
                return report
            if response.status_code < 300:
                state.mark(total.key, fingerprint)
                report.sent.append(total.key)
            elif response.status_code == 409:
                report.waiting.append(total.key)  # sent again next pass, after the worker's report
            elif response.status_code in (404, 422):
                log.warning("portal refused %s: %s %s", total.key, response.status_code, response.text[:300])
                rejected[total.key] = fingerprint
                report.rejected.append(total.key)
            else:  # 401/403 (token), 5xx, 429: nothing is lost, the next pass tries again
                report.stopped = f"portal answered {response.status_code}"
                return report
    return report


def run(course_dirs: list[Path], state_path: Path, portal_url: str, token: str, every: float | None) -> int:
    """Run one pass, or a pass every `every` seconds until stopped."""
    state, rejected = SyncState(state_path), {}
    while True:
        try:
            report = sync_once(course_dirs, state, portal_url, token, rejected=rejected)
        except Exception:  # noqa: BLE001 - a gradebook being rewritten must not end the service
            log.exception("manual grade sync pass failed; retrying next round")
            report = PassReport(stopped="error")
        if report.sent or report.rejected or report.stopped or report.unreadable:
            log.info("sent %d, unchanged %d, refused %d, waiting %d%s", len(report.sent), report.unchanged,
                     len(report.rejected), len(report.waiting),
                     f", stopped: {report.stopped}" if report.stopped else "")
        if every is None:
            return 1 if report.stopped or report.unreadable else 0
        time.sleep(every)


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(prog="python -m academy.grading.manual_sync", description=__doc__.split("\n")[0])
    parser.add_argument("--course-dir", type=Path, required=True,
                        help="the course folder; its token (ACADEMY_SYNC_TOKEN) is good for this course only")
    parser.add_argument("--every", type=float, default=None,
                        help="seconds between passes; without it, run one pass and exit (1 if it stopped early)")
    parser.add_argument("--state", type=Path, default=None,
                        help="state file (default: beside the course's default gradebook, under the var folder)")
    parser.add_argument("--portal-url", default=settings.portal_url,
                        help="the portal's base URL (default: $ACADEMY_PORTAL_URL)")
    args = parser.parse_args(argv)
    logging.basicConfig(level=logging.INFO, format="%(asctime)s %(levelname)s manual_sync: %(message)s")
    token = settings.sync_token
    if not args.portal_url or not token:
        parser.error("set ACADEMY_PORTAL_URL (or --portal-url) and ACADEMY_SYNC_TOKEN (this course's sync token)")
    # Never inside the course folder: the sync may run as an OS user that cannot write there.
    state = args.state or default_gradebook_path(args.course_dir.name).parent / "manual-sync.json"
    return run([args.course_dir], state, args.portal_url, token, args.every)


if __name__ == "__main__":
    raise SystemExit(main())
