"""Portal bench: every page of every role on ten years of data, next to a bare endpoint, 16 clients at a time.

1. Database: a dedicated PostgreSQL database (--database, default academy_bench) is created, migrated and
   filled once with `flask academy seed-scale --years N`; later runs reuse it (--fresh drops and refills it).
2. Server: gunicorn started with exactly the flags of the gunicorn line in scripts/run.sh (read from that
   file, with any variables it uses), on its own loopback port, against that database.
3. Clients: each role signs in once through the sign-in form (CSRF and all); then for each page, --clients
   threads with their own HTTP connection and that role's cookie fetch it --requests times in all. The bare
   endpoint (/healthz: no database, no template) is measured in the same run on the same server.

Prints (and with --markdown FILE writes) a table: page, requests, median ms, p95 ms, req/s, and the trainee
home's throughput as a share of the bare endpoint's. Every answer must be 200, else the page is marked.

Run from the repository root:  .venv/bin/python bench/bench_portal.py [--years 10] [--fresh] [--only home]
"""
from __future__ import annotations

import argparse
import http.client
import os
import re
import socket
import statistics
import subprocess
import sys
import tempfile
import threading
import time
from pathlib import Path
from urllib.parse import urlsplit

import requests
import sqlalchemy as sa

REPO = Path(__file__).resolve().parents[1]
PASSWORD = "academy-scale-2027"
SERVER = "postgresql+psycopg://postgres@127.0.0.1:5432"


def gunicorn_command(port: int) -> str:
    """Return scripts/run.sh's gunicorn command line (with the variable assignments it uses), bound to port."""
    script = (REPO / "scripts" / "run.sh").read_text().replace("\\\n", " ")  # continued lines joined
    line = next(ln.strip() for ln in script.splitlines() if "bin/gunicorn" in ln and not ln.lstrip().startswith("#"))
    line = re.sub(r"\s*&\s*$", "", line)
    line = re.sub(r"--bind[ =]\S+", f"--bind 127.0.0.1:{port}", line)
    used = set(re.findall(r"\$\{?([A-Za-z_][A-Za-z0-9_]*)", line))
    assignments = [ln.strip() for ln in script.splitlines()
                   if re.match(r"\s*(export\s+)?([A-Za-z_][A-Za-z0-9_]*)=", ln)
                   and re.match(r"\s*(?:export\s+)?([A-Za-z_][A-Za-z0-9_]*)=", ln).group(1) in used]
    # One-line shell functions the line calls, e.g. $(metrics_dir portal).
    called = set(re.findall(r"\$\(([A-Za-z_][A-Za-z0-9_]*)", line))
    functions = [ln.strip() for ln in script.splitlines()
                 if (m := re.match(r"\s*([A-Za-z_][A-Za-z0-9_]*)\(\)\s*\{.*\}\s*$", ln)) and m.group(1) in called]
    prefix, command = re.match(r'((?:[A-Za-z_][A-Za-z0-9_]*=(?:"[^"]*"|\S+)\s+)*)(.*)', line).groups()
    return "; ".join([*functions, *assignments, f"{prefix}exec {command}"])


def prepare_database(name: str, years: int, fresh: bool, env: dict) -> str:
    url = f"{SERVER}/{name}"
    admin = sa.create_engine(f"{SERVER}/postgres", isolation_level="AUTOCOMMIT")
    with admin.connect() as conn:
        exists = conn.scalar(sa.text("SELECT 1 FROM pg_database WHERE datname = :n"), {"n": name})
        if exists and fresh:
            conn.execute(sa.text(f'DROP DATABASE "{name}" WITH (FORCE)'))
            exists = False
        if not exists:
            conn.execute(sa.text(f'CREATE DATABASE "{name}"'))
    admin.dispose()
    engine = sa.create_engine(url)
    with engine.connect() as conn:
        filled = conn.scalar(sa.text("SELECT to_regclass('users') IS NOT NULL")) and conn.scalar(
            sa.text("SELECT count(*) FROM users"))
    engine.dispose()
    flask = [str(REPO / ".venv/bin/flask"), "--app", "wsgi"]
    subprocess.run([*flask, "db", "upgrade"], cwd=REPO, env=env, check=True, capture_output=True)
    if not filled:
        print(f"==> filling {name} with {years} years (seed-scale)")
        subprocess.run([*flask, "academy", "seed-scale", "--years", str(years)], cwd=REPO, env=env, check=True)
        engine = sa.create_engine(url, isolation_level="AUTOCOMMIT")
        with engine.connect() as conn:
            conn.execute(sa.text("VACUUM ANALYZE"))
        engine.dispose()
    else:
        print(f"==> reusing {name} ({filled} users; --fresh refills it)")
    return url


def pages(url: str) -> list[tuple[str, str, str]]:
    """Return (role, label, path) for every page each role has, with ids taken from the data."""
    engine = sa.create_engine(url)
    q = lambda sql, **kw: conn.scalar(sa.text(sql), kw)  # noqa: E731
    with engine.connect() as conn:
        trainee = q("SELECT u.id FROM users u JOIN enrollments e ON e.student_id = u.id "
                    "WHERE e.status = 'active' ORDER BY u.id LIMIT 1")
        course = q("SELECT c.id FROM courses c JOIN course_instructors ci ON ci.course_id = c.id "
                   "JOIN users u ON u.id = ci.user_id WHERE u.email = 'instructor01@scale.test' ORDER BY c.id DESC LIMIT 1")
        assignment = q("SELECT id FROM assignments WHERE course_id = :c ORDER BY week LIMIT 1", c=course)
        submission = q("SELECT id FROM submissions WHERE student_id = :s AND status = 'graded' ORDER BY id DESC LIMIT 1",
                       s=trainee)
        cohort = q("SELECT c.id FROM cohorts c JOIN universities u ON u.id = c.university_id "
                   "WHERE u.code = 'INJE' ORDER BY c.year DESC LIMIT 1")
        company = q("SELECT company_id FROM users WHERE email = 'recruiter0001@scale.test'")
        demand = q("SELECT id FROM demands WHERE company_id = :c ORDER BY id DESC LIMIT 1", c=company)
        closed_round = q("SELECT id FROM match_rounds WHERE status = 'closed' ORDER BY id DESC LIMIT 1")
        placement = q("SELECT p.id FROM placements p JOIN demands d ON d.id = p.demand_id "
                      "WHERE d.company_id = :c ORDER BY p.id DESC LIMIT 1", c=company)
        shortlist = conn.execute(sa.text("SELECT round_id, demand_id FROM round_demands rd JOIN demands d "
                                         "ON d.id = rd.demand_id WHERE d.company_id = :c ORDER BY round_id DESC LIMIT 1"),
                                 {"c": company}).first()
    engine.dispose()
    out = [
        ("bare", "bare endpoint /healthz", "/healthz"),
        ("student", "trainee home", "/home/student"),
        ("student", "trainee courses", "/my/courses"),
        ("student", "trainee course", f"/my/courses/{course}"),
        ("student", "trainee submissions", "/my/submissions"),
        ("student", "trainee feedback", f"/my/submissions/{submission}/feedback"),
        ("student", "trainee competencies", "/my/competencies"),
        ("student", "trainee demands", "/my/demands"),
        ("student", "trainee consents", "/my/consents"),
        ("student", "trainee placement", "/my/placement"),
        ("student", "trainee profile", "/my/profile"),
        ("student", "trainee my data", "/my/data"),
        ("student", "trainee applications", "/admissions/mine"),
        ("student", "trainee notifications", "/notifications"),
        ("student", "trainee privacy", "/my/privacy"),
        ("student", "trainee certificates", "/my/certificates"),
        ("instructor", "instructor home", "/home/instructor"),
        ("instructor", "instructor courses", "/courses/mine"),
        ("instructor", "course page", f"/courses/{course}"),
        ("instructor", "gradebook", f"/courses/{course}/gradebook"),
        ("instructor", "course dashboard", f"/courses/{course}/dashboard"),
        ("instructor", "lab submissions", f"/courses/{course}/assignments/{assignment}/submissions"),
        ("instructor", "lab extensions", f"/courses/{course}/assignments/{assignment}/extensions"),
        ("instructor", "gradebook.csv", f"/courses/{course}/gradebook.csv"),
        ("coordinator", "coordinator home", "/home/coordinator"),
        ("coordinator", "applications", "/admissions/applications"),
        ("coordinator", "cohorts", "/admissions/cohorts"),
        ("coordinator", "cohort roster", f"/admissions/cohorts/{cohort}"),
        ("coordinator", "invitations", "/invitations"),
        ("admin", "office home", "/home/admin"),
        ("admin", "outcome report", "/admin/reports/outcomes"),
        ("admin", "training progress", "/admin/reports/progress"),
        ("admin", "privacy requests", "/office/privacy-requests"),
        ("admin", "course administration", "/admin/courses"),
        ("admin", "skills catalogue", "/admin/skills"),
        ("admin", "certificates", "/admin/certificates"),
        ("admin", "audit log", "/admin/audit"),
        ("admin", "users", "/admin/users"),
        ("admin", "companies", "/admin/companies"),
        ("admin", "demand reviews", "/admin/demands"),
        ("admin", "placements office", "/admin/placements"),
        ("admin", "match round", f"/admin/placements/rounds/{closed_round}"),
        ("admin", "universities", "/admin/universities"),
        ("admin", "cohort list", "/admin/cohorts"),
        ("admin", "outbox", "/admin/outbox"),
        ("recruiter", "recruiter home", "/home/recruiter"),
        ("recruiter", "company profile", "/company"),
        ("recruiter", "company demands", "/company/demands"),
        ("recruiter", "demand page", f"/demands/{demand}"),
        ("recruiter", "company placements", "/company/placements"),
    ]
    if placement:
        out.append(("recruiter", "placement page", f"/placements/{placement}"))
    if shortlist:
        out.append(("recruiter", "shortlist", f"/company/demands/{shortlist[1]}/rounds/{shortlist[0]}/shortlist"))
    return out


LOGINS = {"student": None, "instructor": "instructor01@scale.test", "coordinator": "coord.inje@scale.test",
          "admin": "office@scale.test", "recruiter": "recruiter0001@scale.test"}


def sign_in(base: str, email: str) -> dict:
    session = requests.Session()
    form = session.get(f"{base}/login", timeout=30).text
    token = re.search(r'name="csrf_token"[^>]*value="([^"]+)"', form)
    answer = session.post(f"{base}/login", data={"email": email, "password": PASSWORD,
                                                 "csrf_token": token.group(1) if token else ""},
                          allow_redirects=False, timeout=30)
    if answer.status_code != 302:
        raise SystemExit(f"sign-in as {email} failed: {answer.status_code}")
    # Then, as a browser does, the page the sign-in sends to, keeping the cookie it answers with: what the first
    # page notes in the session (the consent check passed, the CSRF secret) is not redone on every later request.
    # The clients below send this cookie and, unlike a browser, never update it.
    landing = session.get(base + answer.headers["Location"] if answer.headers["Location"].startswith("/")
                          else answer.headers["Location"], timeout=30)
    if landing.status_code != 200:
        raise SystemExit(f"the first page after signing in as {email} answered {landing.status_code}")
    return session.cookies.get_dict()


class Client:
    """One keep-alive HTTP/1.1 connection with a role's cookie (http.client: a small fraction of the CPU that
    `requests` takes per request, so the bench's own threads, which share the server's cores, weigh less)."""

    def __init__(self, base: str, cookies: dict):
        parts = urlsplit(base)
        self.host, self.port = parts.hostname, parts.port
        # The sign-in's own User-Agent: Flask-Login's strong session protection ties the cookie to it.
        self.headers = {"User-Agent": requests.utils.default_user_agent()}
        if cookies:
            self.headers["Cookie"] = "; ".join(f"{k}={v}" for k, v in cookies.items())
        self.conn = http.client.HTTPConnection(self.host, self.port, timeout=120)

    def get(self, path: str) -> int:
        for attempt in (1, 2):
            try:
                self.conn.request("GET", path, headers=self.headers)
                answer = self.conn.getresponse()
                answer.read()
                return answer.status
            except (ConnectionError, http.client.RemoteDisconnected, http.client.BadStatusLine):
                # The server closed a kept-alive connection between two requests: a GET is safe to send again,
                # once, on a new connection.
                self.conn.close()
                self.conn = http.client.HTTPConnection(self.host, self.port, timeout=120)
                if attempt == 2:
                    raise
        raise AssertionError("unreachable")

    def close(self) -> None:
        self.conn.close()


def measure(base: str, path: str, cookies: dict, clients: int, total: int, budget: float) -> dict:
    times: list[float] = []
    bad: list[object] = []
    lock = threading.Lock()
    counter = iter(range(total))
    stop_at = time.perf_counter() + budget  # a page that slow gets fewer requests, not all night

    def client() -> None:
        c = Client(base, cookies)
        try:
            while True:
                with lock:
                    if next(counter, None) is None or time.perf_counter() > stop_at:
                        return
                t0 = time.perf_counter()
                try:
                    status: object = c.get(path)
                except (OSError, http.client.HTTPException) as exc:
                    status = type(exc).__name__
                dt = time.perf_counter() - t0
                with lock:
                    times.append(dt)
                    if status != 200:
                        bad.append(status)
        finally:
            c.close()

    warm = Client(base, cookies)  # once before the clock: first-use caches (templates, fonts) are not the page
    warm.get(path)
    warm.close()

    threads = [threading.Thread(target=client) for _ in range(clients)]
    cpu0 = time.process_time()
    started = time.perf_counter()
    for t in threads:
        t.start()
    for t in threads:
        t.join()
    wall = time.perf_counter() - started
    client_cpu = (time.process_time() - cpu0) / wall  # cores the bench's own clients kept busy
    times.sort()
    return {"n": len(times), "median": statistics.median(times) * 1000,
            "p95": times[max(0, int(len(times) * 0.95) - 1)] * 1000, "rps": len(times) / wall,
            "bad": sorted(set(map(str, bad))), "client_cpu": client_cpu}


def main() -> None:
    ap = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    ap.add_argument("--database", default="academy_bench")
    ap.add_argument("--years", type=int, default=10)
    ap.add_argument("--fresh", action="store_true", help="drop and refill the bench database")
    ap.add_argument("--clients", type=int, default=16)
    ap.add_argument("--requests", type=int, default=160, help="requests per page (all clients together)")
    ap.add_argument("--budget", type=float, default=30, help="seconds at most per page (then fewer requests)")
    ap.add_argument("--skip", type=int, default=0, help="leave out the first N pages after the bare endpoint")
    ap.add_argument("--only", default="", help="only pages whose label contains this")
    ap.add_argument("--markdown", type=Path, help="also write the table to this file")
    args = ap.parse_args()

    var = tempfile.mkdtemp(prefix="bench-portal-")
    env = {**os.environ, "ACADEMY_VAR_DIR": var, "ACADEMY_DATABASE_URL": f"{SERVER}/{args.database}",
           "ACADEMY_SECRET_KEY": "bench-only-secret-key-0123456789abcdef"}
    env.pop("DATABASE_URL", None)
    url = prepare_database(args.database, args.years, args.fresh, env)
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        port = s.getsockname()[1]
    command = gunicorn_command(port)
    print(f"==> server: {command}")
    server = subprocess.Popen(["bash", "-c", command], cwd=REPO, env=env, stdout=subprocess.DEVNULL,
                              stderr=open(Path(var) / "gunicorn.err", "w"), start_new_session=True)
    base = f"http://127.0.0.1:{port}"
    try:
        for _ in range(300):
            try:
                if requests.get(base + "/healthz", timeout=2).status_code == 200:
                    break
            except requests.RequestException:
                time.sleep(0.2)
        else:
            raise SystemExit("the server did not start: see " + str(Path(var) / "gunicorn.err"))
        todo = [p for p in pages(url) if args.only in p[1] or p[0] == "bare"]
        todo = todo[:1] + todo[1 + args.skip:]
        engine = sa.create_engine(url)
        with engine.connect() as conn:
            LOGINS["student"] = conn.scalar(sa.text(
                "SELECT u.email FROM users u JOIN enrollments e ON e.student_id = u.id "
                "WHERE e.status = 'active' ORDER BY u.id LIMIT 1"))
        engine.dispose()
        cookies = {role: sign_in(base, email) for role, email in LOGINS.items()}
        cookies["bare"] = {}
        rows = []
        for role, label, path in todo:
            result = measure(base, path, cookies[role], args.clients, args.requests, args.budget)
            rows.append((label, path, result))
            flag = f"  !! answers {result['bad']}" if result["bad"] else ""
            print(f"{label:<26} {result['n']:>5} {result['median']:8.1f} {result['p95']:8.1f} {result['rps']:8.1f} "
                  f"{result['client_cpu']:5.2f}{flag}",
                  flush=True)
    finally:
        os.killpg(server.pid, 15)
        server.wait(timeout=30)
    table = render(rows, command, args)
    print(table)
    if args.markdown:
        args.markdown.write_text(table)


def render(rows, command: str, args) -> str:
    bare = next(r for label, _p, r in rows if label.startswith("bare"))
    home = next((r for label, _p, r in rows if label == "trainee home"), None)
    lines = [f"Server: `{command}`; {args.clients} clients, {args.requests} requests per page, "
             f"{args.years} years of seed-scale data on PostgreSQL.", "",
             "Client CPU: the share of one core the bench's own client threads used while measuring the page (they "
             "run on the same cores as the server).", "",
             "| page | path | requests | median ms | p95 ms | req/s | client CPU |", "|---|---|---|---|---|---|---|"]
    for label, path, r in rows:
        mark = f" (answers {r['bad']}!)" if r["bad"] else ""
        lines.append(f"| {label}{mark} | `{path}` | {r['n']} | {r['median']:.1f} | {r['p95']:.1f} | {r['rps']:.1f} "
                     f"| {r['client_cpu']:.2f} |")
    if home:
        lines += ["", f"Trainee home throughput: {100 * home['rps'] / bare['rps']:.0f}% of the bare endpoint's."]
    return "\n".join(lines) + "\n"


if __name__ == "__main__":
    sys.exit(main())
