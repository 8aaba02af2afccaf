"""Measure how long nbgrader autograde takes on each lab's model solution, on this machine.

Run: .venv/bin/python bench/bench_labs.py [--repeat N] [LAB ...]
Each lab is generated in a throwaway copy of the course, its solution submission (source notebook with the
solution markers removed) is autograded by one `nbgrader autograde` call, and the wall and CPU time of that call
(CPU of nbgrader plus its kernel) are printed with the score. Labs whose notebook does not exist yet are listed as such.
"""

from __future__ import annotations

import argparse
import importlib.util
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
_spec = importlib.util.spec_from_file_location("lab_harness", REPO / "tests" / "labs" / "lab_harness.py")
assert _spec and _spec.loader
h = importlib.util.module_from_spec(_spec)
sys.modules["lab_harness"] = h  # dataclasses look their module up while the class is built
_spec.loader.exec_module(h)


def children_cpu() -> float:
    """Return user+system CPU seconds used so far by finished child processes."""
    usage = resource.getrusage(resource.RUSAGE_CHILDREN)
    return usage.ru_utime + usage.ru_stime


def bench_lab(name: str, repeat: int) -> dict:
    """Autograde the lab's solution `repeat` times and return timings and the score."""
    import nbformat

    walls, cpus = [], []
    score = None
    with tempfile.TemporaryDirectory(prefix=f"bench-{name}-") as tmp:
        scratch = Path(tmp)
        env = h.grading_env(scratch)
        course = h.copy_course(scratch)
        released = h.generate(course, name, env)
        source = nbformat.read(h.source_notebook(name), as_version=4)
        solution = h.with_cells(released, h.solution_sources(source))
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
    parser.add_argument("--repeat", type=int, default=1, help="autograde runs per lab (median is reported)")
    args = parser.parse_args()
    names = args.labs or h.assignment_names()
    load = os.getloadavg()[0]
    print(f"# {platform.node()}: {os.cpu_count()} CPUs, Python {platform.python_version()}, "
          f"load average at start {load:.1f}, repeat={args.repeat}")
    print("| lab | autograde wall s (median) | CPU s (nbgrader + kernel) | solution score |")
    print("|---|---|---|---|")
    for name in names:
        if not h.source_notebook(name).exists():
            print(f"| {name} | not written yet | | |")
            continue
        r = bench_lab(name, args.repeat)
        s = r["score"]
        print(f"| {name} | {statistics.median(r['wall']):.1f} | {statistics.median(r['cpu']):.1f} | "
              f"{s.auto:g}/{s.auto_max:g} |", flush=True)
    print(f"# load average at end {os.getloadavg()[0]:.1f}")


if __name__ == "__main__":
    main()
