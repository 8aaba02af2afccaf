"""Benchmark: 30 lab submissions graded by the sandboxed Celery workers versus `nbgrader autograde`.

Run from the repository root (Redis on 127.0.0.1 for the queue, db 14 is flushed):
    .venv/bin/python bench/bench_grading.py [--submissions 30] [--workers 2] [--broker URL]

1. Builds N submissions of lab 1 (solutions and the lab tests' wrong versions, real AI4I data).
2. System: starts a Celery worker with --concurrency W and, once it is ready, submits the N jobs
   and times until the last result has reached a fake portal endpoint (sandbox on; kernels from
   the fork server unless ACADEMY_GRADING_FORK_SERVER=0).
3. Baseline: the same N submissions autograded by one `nbgrader autograde` process.
4. Latency: on the idle system, one submission from submit to result, against the notebook's
   own run time in a plain local kernel.
Prints a JSON summary, with the CPU seconds each way used: on a machine shared with other work
the wall times move with the load, the CPU seconds much less.
"""
from __future__ import annotations

import argparse
import json
import os
import resource
import shutil
import signal
import subprocess
import sys
import tempfile
import threading
import time
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from pathlib import Path

import nbformat

REPO = Path(__file__).resolve().parents[1]
sys.path[:0] = [str(REPO), str(REPO / "tests" / "labs")]

import lab_harness as lab  # noqa: E402  (shared with the lab tests: same submissions, same grading)

LAB = "lab1_predictive_maintenance"


def tree_cpu(root: int) -> float:
    """Return the CPU seconds of a process tree: live processes plus their reaped children."""
    tick = os.sysconf("SC_CLK_TCK")
    stats: dict[int, tuple[int, float]] = {}
    for entry in os.listdir("/proc"):
        if not entry.isdigit():
            continue
        try:
            fields = Path(f"/proc/{entry}/stat").read_text().rsplit(")", 1)[1].split()
        except OSError:
            continue
        # After the name: state ppid ... utime(12) stime(13) cutime(14) cstime(15), 1-based from state.
        stats[int(entry)] = (int(fields[1]), sum(int(x) for x in fields[11:15]) / tick)
    tree, frontier = {root}, [root]
    while frontier:
        parent = frontier.pop()
        for pid, (ppid, _) in stats.items():
            if ppid == parent and pid not in tree:
                tree.add(pid)
                frontier.append(pid)
    return sum(stats[pid][1] for pid in tree if pid in stats)


class SandboxCpu:
    """Sample the CPU seconds of sandboxed kernels (their uid range) every 0.1 s.

    bubblewrap's pid-namespace init is not reaped by its parent, so a kernel's CPU never reaches
    the worker's child counters; polling /proc misses at most the last 0.1 s of each kernel.
    """

    def __init__(self, uid_base: int = 200000, active: bool = True) -> None:
        self.uid_base = uid_base
        self.seen: dict[tuple[int, int], float] = {}
        self.running = active
        self.thread = threading.Thread(target=self._loop, daemon=True)
        self.thread.start()

    def _loop(self) -> None:
        tick = os.sysconf("SC_CLK_TCK")
        while self.running:
            for entry in os.listdir("/proc"):
                if not entry.isdigit():
                    continue
                try:
                    if os.stat(f"/proc/{entry}").st_uid < self.uid_base:
                        continue
                    fields = Path(f"/proc/{entry}/stat").read_text().rsplit(")", 1)[1].split()
                except OSError:
                    continue
                key = (int(entry), int(fields[19]))  # pid and start time: pids are reused
                self.seen[key] = max(self.seen.get(key, 0.0), (int(fields[11]) + int(fields[12])) / tick)
            time.sleep(0.1)

    def stop(self) -> float:
        """Stop sampling and return the kernels' CPU seconds."""
        self.running = False
        self.thread.join()
        return sum(self.seen.values())


class Portal:
    """A fake portal endpoint that records the arrival time of every result."""

    def __init__(self) -> None:
        self.arrivals: dict[str, float] = {}
        self.bodies: dict[str, dict] = {}
        portal = self

        class Handler(BaseHTTPRequestHandler):
            def do_POST(self) -> None:  # noqa: N802
                body = json.loads(self.rfile.read(int(self.headers["Content-Length"])))
                portal.arrivals.setdefault(body["submission_id"], time.monotonic())
                portal.bodies[body["submission_id"]] = body
                self.send_response(200)
                self.end_headers()

            def log_message(self, *args: object) -> None:
                pass

        self.server = ThreadingHTTPServer(("127.0.0.1", 0), Handler)
        self.url = f"http://127.0.0.1:{self.server.server_address[1]}"
        threading.Thread(target=self.server.serve_forever, daemon=True).start()

    def wait_for(self, ids: set[str], timeout: float) -> float:
        """Wait until every id has arrived; return the monotonic time of the last arrival."""
        deadline = time.monotonic() + timeout
        while not ids <= set(self.arrivals):
            if time.monotonic() > deadline:
                raise TimeoutError(f"{len(ids - set(self.arrivals))} results missing")
            time.sleep(0.05)
        return max(self.arrivals[i] for i in ids)


def build(scratch: Path, count: int) -> tuple[Path, dict[str, nbformat.NotebookNode], dict[str, str]]:
    """Return a generated course copy, `count` submissions by student id and the grading env."""
    course = lab.copy_course(scratch)
    env = lab.grading_env(scratch)
    released = lab.generate(course, LAB, env)
    source = nbformat.read(lab.source_notebook(LAB), as_version=4)
    solution = lab.with_cells(released, lab.solution_sources(source))
    wrong = [lab.with_cells(solution, r) for r in lab.load_variants(LAB).values()]
    subs = {}
    for i in range(count):
        subs[f"trainee{i:02d}"] = wrong[i // 7 % len(wrong)] if i % 7 == 6 else solution
    return course, subs, env


def run_system(course: Path, subs: dict[str, nbformat.NotebookNode], env: dict[str, str],
               workers: int, broker: str, scratch: Path) -> dict[str, float]:
    """Time the sandboxed workers on all submissions, then one submission on the idle system."""
    portal = Portal()
    wenv = {**env, "ACADEMY_BROKER_URL": broker, "ACADEMY_GRADING_DIR": str(scratch / "state"),
            "ACADEMY_GRADING_SCRATCH": str(scratch / "jobs"), "ACADEMY_PORTAL_URL": portal.url,
            "ACADEMY_GRADER_TOKEN": "bench", "PYTHONPATH": str(REPO)}
    os.environ.update({k: wenv[k] for k in ("ACADEMY_BROKER_URL", "ACADEMY_GRADING_DIR")})
    if broker.startswith("redis://"):
        import redis

        redis.Redis.from_url(broker).flushdb()
    from academy.grading import tasks
    from academy.grading.forkserver import fork_server_enabled
    from academy.grading.jobs import GradingJob, GradingLimits

    tasks.app.conf.broker_url = broker
    worker = subprocess.Popen(
        [sys.executable, "-m", "celery", "-A", "academy.grading.celery_app", "worker", "-Q", "cpu",
         "--concurrency", str(workers), "--loglevel", "WARNING", "--without-gossip", "--without-mingle"],
        cwd=REPO, env=wenv, stdout=(scratch / "worker.log").open("wb"), stderr=subprocess.STDOUT,
        start_new_session=True)
    limits = GradingLimits(wall_seconds=600, cell_timeout_seconds=120)
    forked = fork_server_enabled(gpu=False)

    def job(sid: str, nb: nbformat.NotebookNode, key: str) -> GradingJob:
        return GradingJob(submission_id=key, course_dir=str(course), assignment=LAB, student_id=sid,
                          files={f"{LAB}.ipynb": nbformat.writes(nb).encode()}, limits=limits,
                          data_dir=env["ACADEMY_DATA_DIR"])

    try:
        first = next(iter(subs))
        warm = time.monotonic()
        tasks.submit(job(first, subs[first], "warmup"))  # the worker is up once this comes back
        portal.wait_for({"warmup"}, 600)
        cpu_before = tree_cpu(worker.pid)
        # Forked kernels are reaped up to their fork server, inside the worker's tree: sampling
        # them as well would count them twice.
        kernels = SandboxCpu(active=not forked)
        load_start = os.getloadavg()[0]
        started = time.monotonic()
        for sid, nb in subs.items():
            tasks.submit(job(sid, nb, f"bench-{sid}"))
        last = portal.wait_for({f"bench-{sid}" for sid in subs}, 3600)
        batch = last - started
        worker_cpu = tree_cpu(worker.pid) - cpu_before
        kernel_cpu = kernels.stop()
        load_end = os.getloadavg()[0]
        time.sleep(3)  # let the system settle before timing one submission alone
        one = time.monotonic()
        tasks.submit(job("latency", subs[first], "latency-1"))
        latency = portal.wait_for({"latency-1"}, 600) - one
        scores = [portal.bodies[f"bench-{sid}"]["auto_score"] for sid in subs]
        messages = [str(portal.bodies[f"bench-{sid}"].get("message", ""))[:300] for sid in subs]
        statuses = sorted({portal.bodies[f"bench-{sid}"]["status"] for sid in subs})
        durations = [portal.bodies[f"bench-{sid}"]["duration_seconds"] for sid in subs]
    finally:
        os.killpg(worker.pid, signal.SIGTERM)
        worker.wait(60)
    return {"batch_s": batch, "cpu_s": worker_cpu + kernel_cpu, "worker_cpu_s": worker_cpu,
            "kernel_cpu_s": kernel_cpu, "load": [load_start, load_end], "latency_s": latency, "first_job_incl_worker_start_s": started - warm,
            "scores": scores, "messages": messages, "statuses": statuses, "mean_job_s": sum(durations) / len(durations),
            "fork_server": forked}


def run_nbgrader(course: Path, subs: dict[str, nbformat.NotebookNode], env: dict[str, str]) -> dict[str, float]:
    """Time one `nbgrader autograde` process on all submissions, as an instructor runs it."""
    lab.write_submissions(course, LAB, subs)
    before = resource.getrusage(resource.RUSAGE_CHILDREN)
    load_start = os.getloadavg()[0]
    started = time.monotonic()
    lab.autograde(course, LAB, env, timeout=7200)
    elapsed = time.monotonic() - started
    load_end = os.getloadavg()[0]
    after = resource.getrusage(resource.RUSAGE_CHILDREN)
    cpu = (after.ru_utime + after.ru_stime) - (before.ru_utime + before.ru_stime)
    scores = lab.read_scores(course, LAB, list(subs))
    return {"batch_s": elapsed, "cpu_s": cpu, "load": [load_start, load_end],
            "scores": [scores[s].auto for s in subs]}


def plain_run_time(nb: nbformat.NotebookNode, env: dict[str, str], cwd: Path) -> float:
    """Return how long the notebook takes in a plain local kernel, kernel start included."""
    from nbclient import NotebookClient

    old = dict(os.environ)
    os.environ.update(env)
    try:
        started = time.monotonic()
        NotebookClient(nbformat.from_dict(nb), timeout=600, allow_errors=True,
                       resources={"metadata": {"path": str(cwd)}}).execute()
        return time.monotonic() - started
    finally:
        os.environ.clear()
        os.environ.update(old)


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--submissions", type=int, default=30)
    parser.add_argument("--workers", type=int, default=2)
    parser.add_argument("--broker", default="redis://127.0.0.1:6379/14")
    args = parser.parse_args()
    scratch = Path(tempfile.mkdtemp(prefix="bench-grading-"))
    try:
        course_a, subs, env = build(scratch / "a", args.submissions)
        course_b, _, _ = build(scratch / "b", 0)
        system = run_system(course_a, subs, env, args.workers, args.broker, scratch)
        baseline = run_nbgrader(course_b, subs, env)
        run_time = plain_run_time(next(iter(subs.values())), env, scratch)
        differ = [(i, a, b, system["messages"][i]) for i, (a, b) in enumerate(zip(system["scores"], baseline["scores"]))
                  if a != b]
        assert not differ, f"scores differ from nbgrader's (index, ours, nbgrader's, our message): {differ}"
        assert max(baseline["scores"]) > 0, "no submission scored anything: is the dataset where the lab reads it?"
        summary = {
            "submissions": args.submissions, "workers": args.workers, "broker": args.broker.split("://")[0],
            "system_s": round(system["batch_s"], 1), "nbgrader_autograde_s": round(baseline["batch_s"], 1),
            "speedup": round(baseline["batch_s"] / system["batch_s"], 2),
            "mean_job_s": round(system["mean_job_s"], 2),
            "system_cpu_s": round(system["cpu_s"], 1), "system_worker_cpu_s": round(system["worker_cpu_s"], 1),
            "system_kernel_cpu_s": round(system["kernel_cpu_s"], 1), "nbgrader_cpu_s": round(baseline["cpu_s"], 1),
            "load_during_system": [round(x, 1) for x in system["load"]],
            "load_during_nbgrader": [round(x, 1) for x in baseline["load"]],
            # On an otherwise idle machine with `workers` cores: serial CPU against parallel CPU.
            "speedup_from_cpu": round(baseline["cpu_s"] / (system["cpu_s"] / args.workers), 2),
            "one_submission_submit_to_result_s": round(system["latency_s"], 2),
            "notebook_plain_run_s": round(run_time, 2),
            "latency_over_run_s": round(system["latency_s"] - run_time, 2),
            "statuses": system["statuses"], "scores_equal": True, "fork_server": system["fork_server"],
            "cpu_count": os.cpu_count(), "load_avg_after": [round(x, 1) for x in os.getloadavg()],
        }
        print(json.dumps(summary, indent=2))
    finally:
        shutil.rmtree(scratch, ignore_errors=True)


if __name__ == "__main__":
    main()
