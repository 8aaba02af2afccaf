"""Measure how long grading each lab's model solution takes on this machine, through the production grader.

Run: .venv/bin/python bench/bench_labs.py [--repeat N] [--grader production|nbgrader] [LAB ...]
Each lab is generated in a throwaway copy of the course and its solution submission (the source notebook's answers
with the solution markers removed) is graded `repeat` times. With the production grader (the default) each run is
one GradingJob for academy.grading.grader.grade_submission in a worker process whose fork server is already
started, exactly as the lab tests grade; the CPU column is the worker's and its sandboxed processes' CPU for that
job (the fork server's one-off preload is printed once). With --grader nbgrader each run is one plain
`nbgrader autograde` call, CPU of nbgrader plus its kernel. Labs whose notebook does not exist yet are listed.
"""

from __future__ import annotations

import argparse
import os
import platform
import resource
import shutil
import statistics
import sys
import tempfile
import time
from pathlib import Path

REPO = Path(__file__).resolve().parents[1]
sys.path[:0] = [str(REPO), str(REPO / "tests" / "labs")]

import nbformat  # noqa: E402

import lab_harness as h  # noqa: E402  (shared with the lab tests: same submissions, same grading)


def children_cpu() -> float:
    """Return user+system CPU seconds used so far by finished child processes."""
    usage = resource.getrusage(resource.RUSAGE_CHILDREN)
    return usage.ru_utime + usage.ru_stime


def prepare(name: str, scratch: Path) -> tuple[Path, dict[str, str], nbformat.NotebookNode]:
    """Generate the lab in a course copy and return the course, its environment and the solution submission."""
    env = h.grading_env(scratch)
    course = h.copy_course(scratch)
    released = h.generate(course, name, env)
    source = nbformat.read(h.source_notebook(name), as_version=4)
    return course, env, h.with_cells(released, h.solution_sources(source))


def bench_production(name: str, repeat: int, grader: h.ProductionGrader) -> dict:
    """Grade the lab's solution `repeat` times through grade_submission; return timings and the last score."""
    with tempfile.TemporaryDirectory(prefix=f"bench-{name}-") as tmp:
        course, _, solution = prepare(name, Path(tmp))
        scores = [grader.submit(course, name, f"solution-{i}", solution).result() for i in range(repeat)]
    return {"wall": [s.wall_seconds for s in scores], "cpu": [s.cpu_seconds for s in scores], "score": scores[-1]}


def bench_nbgrader(name: str, repeat: int) -> dict:
    """Autograde the lab's solution `repeat` times with plain nbgrader; return timings and the last score."""
    walls, cpus = [], []
    with tempfile.TemporaryDirectory(prefix=f"bench-{name}-") as tmp:
        course, env, solution = prepare(name, Path(tmp))
        for _ in range(repeat):
            for folder in ("submitted", "autograded"):
                shutil.rmtree(course / folder, ignore_errors=True)
            h.write_submissions(course, name, {"solution": solution})
            cpu0, t0 = children_cpu(), time.perf_counter()
            h.autograde(course, name, env)
            walls.append(time.perf_counter() - t0)
            cpus.append(children_cpu() - cpu0)
        score = h.read_scores(course, name, ["solution"])["solution"]
    return {"wall": walls, "cpu": cpus, "score": score}


def main() -> None:
    """Benchmark the chosen labs (all syllabus labs by default) and print a Markdown table."""
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("labs", nargs="*", help="assignment names (default: every syllabus entry)")
    parser.add_argument("--repeat", type=int, default=1, help="grading runs per lab (median is reported)")
    parser.add_argument("--grader", choices=("production", "nbgrader"), default=h.GRADER)
    args = parser.parse_args()
    names = args.labs or h.assignment_names()
    grader = h.ProductionGrader(workers=1) if args.grader == "production" else None
    print(f"# {platform.node()}: {os.cpu_count()} CPUs, Python {platform.python_version()}, grader {args.grader}, "
          f"load average at start {os.getloadavg()[0]:.1f}, repeat={args.repeat}")
    if grader is not None:
        print(f"# fork server preload (once per worker, not in the table): {grader.preload_cpu()} s CPU")
    cpu_label = "CPU s (worker + sandbox)" if grader is not None else "CPU s (nbgrader + kernel)"
    print(f"| lab | grading wall s (median) | {cpu_label} | solution score |")
    print("|---|---|---|---|")
    try:
        for name in names:
            if not h.source_notebook(name).exists():
                print(f"| {name} | not written yet | | |")
                continue
            r = bench_production(name, args.repeat, grader) if grader is not None else bench_nbgrader(
                name, args.repeat)
            s = r["score"]
            status = "" if s.status == "graded" else f" ({s.status})"
            print(f"| {name} | {statistics.median(r['wall']):.1f} | {statistics.median(r['cpu']):.1f} | "
                  f"{s.auto:g}/{s.auto_max:g}{status} |", flush=True)
    finally:
        if grader is not None:
            grader.close()
    print(f"# load average at end {os.getloadavg()[0]:.1f}")


if __name__ == "__main__":
    main()
