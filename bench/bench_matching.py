"""Time the match core against the `matching` package on random rounds, and check they agree.

Run: .venv/bin/python bench/bench_matching.py [--repeat 7] [--package-runs 1] [--skip-package]

Each trainee ranks L demands drawn at random; each demand ranks everyone who ranked it, in random
order (as in docs: /work/shared/notes/pipeline-anchors.md §2.4). Ids are integers, as database keys
are. Our time covers the whole `match()` call: id mapping, rank tables, proposals and the result.
The package's time is `create_from_dictionaries` plus `solve(optimal="resident")`. Wall time is
printed with CPU time (`time.process_time`), because on a shared machine the wall time mostly
measures the other tenants; the load average is printed first.
"""
from __future__ import annotations

import argparse
import gc
import os
import platform
import random
import sys
import time
import warnings
from pathlib import Path

sys.path.insert(0, str(Path(__file__).resolve().parents[1]))

from academy.placements.matching import audit, match  # noqa: E402

Instance = tuple[dict[int, list[int]], dict[int, list[int]], dict[int, int]]
CASES = [  # (trainees, demands, list length, capacity, compare with the package)
    (150, 300, 10, 1, True),  # about one year of this academy
    (5_000, 500, 20, 10, True),
    (30_000, 3_000, 20, 10, False),
]


def make_round(n: int, m: int, length: int, capacity: int, seed: int = 20260) -> Instance:
    """Build a random round with a fixed seed."""
    rng = random.Random(seed)
    demands = list(range(100_000, 100_000 + m))
    student_prefs = {s: rng.sample(demands, length) for s in range(1, n + 1)}
    demand_prefs: dict[int, list[int]] = {d: [] for d in demands}
    for s, prefs in student_prefs.items():
        for d in prefs:
            demand_prefs[d].append(s)
    for ranking in demand_prefs.values():
        rng.shuffle(ranking)
    return student_prefs, demand_prefs, dict.fromkeys(demands, capacity)


def time_ours(instance: Instance, repeat: int) -> tuple[float, float, float, dict]:
    """Return the best and median wall time and the best CPU time of `match()`, and its assignment."""
    walls, cpus = [], []
    for _ in range(repeat):
        gc.collect()  # start each run from the same heap, so one run does not pay for another's garbage
        start, cpu = time.perf_counter(), time.process_time()
        result = match(*instance)
        walls.append(time.perf_counter() - start)
        cpus.append(time.process_time() - cpu)
    walls.sort()
    return walls[0], walls[len(walls) // 2], min(cpus), dict(result.assignment)


def time_package(instance: Instance, runs: int) -> tuple[float, float, dict]:
    """Return the best wall and CPU time of the package's build + solve, and its assignment."""
    from matching.games import HospitalResident

    sys.setrecursionlimit(1_000_000)  # its deepcopy of the player graph recurses (its issue #139)
    best, best_cpu, assignment = float("inf"), float("inf"), {}
    for _ in range(runs):
        start, cpu = time.perf_counter(), time.process_time()
        with warnings.catch_warnings():
            warnings.simplefilter("ignore")
            game = HospitalResident.create_from_dictionaries(*instance)
            solution = game.solve(optimal="resident")
        best = min(best, time.perf_counter() - start)
        best_cpu = min(best_cpu, time.process_time() - cpu)
        assignment = dict.fromkeys(instance[0])
        for hospital, taken in solution.items():
            for resident in taken:
                assignment[resident.name] = hospital.name
    return best, best_cpu, assignment


def main() -> None:
    """Run every case and print a table."""
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--repeat", type=int, default=7, help="runs of our core per case (best is kept)")
    parser.add_argument("--package-runs", type=int, default=1, help="runs of the package per case")
    parser.add_argument("--skip-package", action="store_true", help="time only our core")
    args = parser.parse_args()
    print(f"python {platform.python_version()}, {os.cpu_count()} cores, {platform.machine()}, "
          f"load average {' '.join(f'{x:.2f}' for x in os.getloadavg())}")
    print("| trainees × demands, L, cap | ours: wall best (median), CPU best | package build+solve: wall, CPU "
          "| speed-up (wall, CPU) | same | stable |")
    print("|---|---|---|---|---|---|")
    for n, m, length, capacity, compare in CASES:
        instance = make_round(n, m, length, capacity)
        best, median, cpu, ours = time_ours(instance, args.repeat)
        stable = audit(*instance, ours).ok
        package, same, speedup = "not run", "–", "–"
        if compare and not args.skip_package:
            theirs, theirs_cpu, assignment = time_package(instance, args.package_runs)
            package = f"{theirs:.3f} s, {theirs_cpu:.3f} s"
            speedup = f"{theirs / best:.0f}×, {theirs_cpu / cpu:.0f}×"
            same = str(ours == assignment)
        print(f"| {n:,} × {m:,}, L{length}, cap{capacity} | {best:.4f} s ({median:.4f} s), {cpu:.4f} s "
              f"| {package} | {speedup} | {same} | {stable} |")


if __name__ == "__main__":
    main()
