"""The real portal (gunicorn) and the real JupyterHub with its proxy, on free loopback ports.

Used by the end-to-end browser tests and by bench/bench_hub_login.py. Each Stack has its own
folder: the portal's SQLite database with the demo data, the hub's database and user homes.
With grader=True a Celery grading worker runs beside them (the broker a SQLite file in the
stack's folder), sharing the portal's grader token; courses_dir points portal and worker at
another nbgrader course folder (a small test course instead of ./courses).
"""
from __future__ import annotations

import json
import os
import secrets
import shutil
import signal
import socket
import subprocess
import sys
import tempfile
import time
from pathlib import Path

import psutil
import requests

REPO = Path(__file__).resolve().parents[2]
PYTHON = sys.executable
DEMO_PASSWORD = "academy-demo-2027"


# The demo's names: trainee001.., recruiter01, instructor01, all with the demo password, one 2027
# cohort taking the labs course (so hub groups include nbgrader-c<course id>).
SEED = """\
import json
from academy.admissions.services import enroll
from academy.auth.services import create_user
from academy.companies.models import Company
from academy.courses.models import Course
from academy.universities.models import Cohort, University
db.create_all()
uni = University(code="INJE", name_ko="인제대학교", name_en="Inje University", city="gimhae")
cohort = Cohort(university=uni, year=2027, name="2027-1", capacity={trainees} + 5)
company = Company(name="경남정밀", sector="machinery", city="changwon", size="small", status="approved")
db.session.add_all([uni, cohort, company])
db.session.flush()
course = Course(code="MAI-101", title_ko="제조 AI", title_en="Manufacturing AI", nbgrader_course="manufacturing-ai",
                cohorts=[cohort])
db.session.add(course)
for i in range({trainees}):
    enroll(create_user(f"trainee{{i + 1:03d}}@academy.test", f"교육생 {{i + 1}}", "student", "{password}",
                       check_password=False), cohort)
course.instructors.append(create_user("instructor01@academy.test", "강사", "instructor", "{password}",
                                      check_password=False))
create_user("recruiter01@academy.test", "채용 담당자", "recruiter", "{password}", company_id=company.id,
            check_password=False)
from academy.privacy.seed import seed_consents
seed_consents()  # the trainees and the recruiter have given the privacy policy's consent
db.session.commit()
from academy.auth.models import User
print(json.dumps(dict(db.session.execute(db.select(User.email, User.id)).all())))
"""

RELEASE = """\
from datetime import timedelta
from academy.courses.models import Course
from academy.courses.services import save_assignment, set_due_date
from academy.util import utcnow
course = db.session.scalar(db.select(Course).where(Course.code == "MAI-101"))
assignment = save_assignment(course, None, nbgrader_name={name!r}, title_ko={title_ko!r}, title_en={title_en!r},
                             week=1, max_points={max_points!r}, needs_gpu=False, skills={{}})
for cohort in course.cohorts:
    set_due_date(assignment, cohort, utcnow() + timedelta(days=7), released_at=utcnow() - timedelta(minutes=1))
db.session.commit()
print(assignment.id)
"""


def free_port() -> int:
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return s.getsockname()[1]


def wait_until(check, timeout: float, what: str, process: subprocess.Popen | None = None) -> None:
    deadline = time.monotonic() + timeout
    while time.monotonic() < deadline:
        if process is not None and process.poll() is not None:
            raise RuntimeError(f"{what}: the process ended with {process.returncode}")
        try:
            if check():
                return
        except requests.RequestException:
            pass
        time.sleep(0.2)
    raise TimeoutError(f"{what}: not ready after {timeout:.0f} s")


class Stack:
    """Portal + hub + proxy, started and stopped together."""

    def __init__(self, root: Path, trainees: int = 2, portal_threads: int = 8, config: Path | None = None,
                 courses_dir: Path | None = None, grader: bool = False):
        self.root = root
        self.grader = grader
        self.config = config or REPO / "jupyterhub_config.py"
        self.trainees = trainees
        self.portal_port, self.hub_port = free_port(), free_port()
        self.portal_url = f"http://127.0.0.1:{self.portal_port}"
        self.hub_url = f"http://127.0.0.1:{self.hub_port}"
        self.api_token = secrets.token_hex(32)
        self.portal_threads = portal_threads
        self.processes: list[subprocess.Popen] = []
        var = root / "var"
        var.mkdir(parents=True, exist_ok=True)
        self.env = {
            **os.environ,
            "ACADEMY_VAR_DIR": str(var),
            "ACADEMY_DATA_DIR": str(root / "data"),
            "DATABASE_URL": f"sqlite:///{var / 'portal.sqlite'}",
            "ACADEMY_PORTAL_URL": self.portal_url,
            "ACADEMY_HUB_URL": self.hub_url,
            "ACADEMY_HUB_CLIENT_SECRET": secrets.token_urlsafe(32),
            "ACADEMY_HUB_API_TOKEN": self.api_token,
            "JUPYTERHUB_CRYPT_KEY": secrets.token_hex(32),
            "ACADEMY_HUB_API_BIND_URL": f"http://127.0.0.1:{free_port()}",
            "ACADEMY_HUB_PROXY_API_URL": f"http://127.0.0.1:{free_port()}",
            # Shared by the portal (checks it) and the grading worker (sends it with each result).
            "ACADEMY_GRADER_TOKEN": secrets.token_hex(32),
            "ACADEMY_GRADING_DIR": str(var / "grading"),
            # Formgraders start only where a test asks for them (tests/formgrader): they add seconds to
            # every hub start and would write a gradebook into the course folder.
            "ACADEMY_FORMGRADERS": "off",
        }
        self.env.pop("ACADEMY_TEST_DATABASE", None)
        self.env.pop("ACADEMY_BROKER_URL", None)  # the default: a SQLite broker under the grading dir
        if courses_dir is not None:
            self.env["ACADEMY_COURSES_DIR"] = str(courses_dir)
        # Job folders hold the kernels' IPC sockets, whose paths must stay under 107 bytes: a short
        # folder of this stack's own, not pytest's long tmp path.
        self.scratch = Path(tempfile.mkdtemp(prefix="stack-grading-")) if grader else None
        if self.scratch is not None:
            self.env["ACADEMY_GRADING_SCRATCH"] = str(self.scratch)

    # --- the portal -------------------------------------------------------------------------
    def portal_python(self, code: str) -> str:
        """Run Python inside the portal's app context (against its database) and return stdout."""
        script = "from academy import create_app\nfrom academy.extensions import db\napp = create_app()\n"
        script += "with app.app_context():\n" + "".join(f"    {line}\n" for line in code.splitlines())
        done = subprocess.run([PYTHON, "-c", script], cwd=REPO, env=self.env, capture_output=True, text=True)
        if done.returncode:
            raise RuntimeError(done.stderr[-3000:])
        return done.stdout

    def _prepare_portal(self) -> None:
        """Build the schema and a small cohort in one process (the full demo seed takes a minute here)."""
        out = self.portal_python(SEED.format(trainees=self.trainees, password=DEMO_PASSWORD))
        self.ids = json.loads(out.strip().splitlines()[-1])

    def _spawn(self, args: list[str], log: str) -> subprocess.Popen:
        out = (self.root / log).open("wb")
        process = subprocess.Popen(args, cwd=self.root, env=self.env, stdout=out, stderr=subprocess.STDOUT,
                                   start_new_session=True)
        self.processes.append(process)
        return process

    def start(self) -> Stack:
        self._prepare_portal()
        # The portal's gunicorn settings as scripts/run.sh has them (keep-alive), then this stack's own.
        portal = self._spawn([PYTHON, "-m", "gunicorn", "--config", str(REPO / "gunicorn.conf.py"), "--chdir",
                              str(REPO), "--bind", f"127.0.0.1:{self.portal_port}", "--workers", "1", "--threads",
                              str(self.portal_threads), "wsgi:app"], "portal.log")
        hub = self._spawn([PYTHON, "-m", "jupyterhub", "-f", str(self.config)], "hub.log")
        worker = self._start_worker() if self.grader else None
        wait_until(lambda: requests.get(f"{self.portal_url}/login", timeout=2).ok, 60, "portal", portal)
        wait_until(lambda: requests.get(f"{self.hub_url}/hub/api", timeout=2).ok, 90, "hub", hub)
        if worker is not None:
            # The SQLite broker has no remote control to ping: the worker says "ready" in its log.
            wait_until(lambda: " ready." in self.log("worker.log"), 90, "grading worker", worker)
        return self

    def start_or_explain(self) -> Stack:
        """Start, or stop what did start and fail with the logs that say why (for fixtures)."""
        try:
            return self.start()
        except Exception as exc:
            self.stop()
            logs = "".join(f"\n{name}:\n{self.log(name)}" for name in ("hub.log", "portal.log", "worker.log")
                           if self.log(name))
            raise RuntimeError(f"stack did not start: {exc}{logs}") from exc

    def _start_worker(self) -> subprocess.Popen:
        """Start one grading worker process (as scripts/run.sh does, with one slot)."""
        return self._spawn([PYTHON, "-m", "celery", "--workdir", str(REPO), "-A", "academy.grading.celery_app",
                            "worker", "-Q", "cpu,gpu", "--concurrency", "1", "--loglevel", "INFO",
                            "--without-heartbeat", "--without-gossip", "--without-mingle"], "worker.log")

    def stop(self) -> None:
        """Stop everything, the hub's proxy and servers included even if the hub cannot stop them."""
        # The servers and the proxy run in sessions of their own: note them before the hub goes.
        descendants = []
        for process in self.processes:
            try:
                descendants += psutil.Process(process.pid).children(recursive=True)
            except psutil.NoSuchProcess:
                pass
        for process in self.processes:
            if process.poll() is None:
                process.send_signal(signal.SIGTERM)
                try:
                    process.wait(timeout=60)
                except subprocess.TimeoutExpired:
                    os.killpg(process.pid, signal.SIGKILL)
                    process.wait()
        for child in descendants:
            try:
                child.kill()
            except psutil.NoSuchProcess:
                pass
        self.processes.clear()
        if self.scratch is not None:
            shutil.rmtree(self.scratch, ignore_errors=True)

    # --- the hub's API with the portal's service token -----------------------------------------
    def hub_api(self, method: str, path: str, **kw) -> requests.Response:
        return requests.request(method, f"{self.hub_url}/hub/api{path}",
                                headers={"Authorization": f"token {self.api_token}"}, timeout=10, **kw)

    def release_assignment(self, nbgrader_name: str, title_en: str, title_ko: str, max_points: float) -> int:
        """Add an assignment to the seeded course, released now to its cohorts, due in a week; return its id."""
        return int(self.portal_python(RELEASE.format(name=nbgrader_name, title_en=title_en, title_ko=title_ko,
                                                     max_points=max_points)).strip().splitlines()[-1])

    def user_id(self, email: str) -> int:
        return self.ids[email]

    def log(self, name: str) -> str:
        path = self.root / name
        return path.read_text(errors="replace")[-4000:] if path.exists() else ""


def portal_login(page, stack: Stack, email: str) -> None:
    """Sign in at the portal in a Playwright page with the demo password."""
    page.goto(f"{stack.portal_url}/login")
    page.fill("input[name=email]", email)
    page.fill("input[name=password]", DEMO_PASSWORD)
    page.click("form button[type=submit].primary")
    page.wait_for_selector("[data-test=who]")
