"""Benchmark: the trainee's feedback page against nbgrader's own feedback (nbconvert's HTML export).

Run from the repository root:
    .venv/bin/python bench/bench_feedback.py [--graded path/to/autograded.ipynb ...]

For every lab in courses/ (the instructor's notebook with its solutions, outputs as saved) and for any graded
notebooks given, renders the page `academy.grading.feedback.render_feedback` makes, and the page
`nbgrader generate_feedback` would make (nbconvert's HTMLExporter, lab template, Pygments), each 5 times after
one warm-up; prints the median milliseconds per page as JSON. The lab with the most cells is the worst case.
"""
from __future__ import annotations

import argparse
import json
import statistics
import sys
import time
import warnings
from pathlib import Path

import nbformat

REPO = Path(__file__).resolve().parents[1]
sys.path.insert(0, str(REPO))

from academy.grading.feedback import render_feedback  # noqa: E402
from academy.grading.jobs import CellScore  # noqa: E402


def _median_ms(render, repeat: int = 5) -> float:
    render()
    times = []
    for _ in range(repeat):
        started = time.perf_counter()
        render()
        times.append(time.perf_counter() - started)
    return round(statistics.median(times) * 1000, 1)


def main() -> None:
    parser = argparse.ArgumentParser()
    parser.add_argument("--graded", nargs="*", default=[], help="graded notebooks (with outputs) to render too")
    args = parser.parse_args()
    from nbconvert import HTMLExporter

    warnings.simplefilter("ignore")
    nbconvert = HTMLExporter(template_name="lab")
    paths = sorted((REPO / "courses").glob("*/source/*/*.ipynb")) + [Path(p) for p in args.graded]
    rows = []
    for path in paths:
        nb = nbformat.read(path, as_version=4)
        scores = [CellScore(path.stem, c.metadata["nbgrader"]["grade_id"], 1.0, 1.0) for c in nb.cells
                  if c.get("metadata", {}).get("nbgrader", {}).get("grade")]
        rows.append({
            "notebook": str(path.relative_to(REPO) if path.is_relative_to(REPO) else path),
            "cells": len(nb.cells), "bytes": path.stat().st_size,
            "academy_ms": _median_ms(lambda: render_feedback({path.stem: nb}, scores, "Graded.")),
            "nbconvert_ms": _median_ms(lambda: nbconvert.from_notebook_node(nb)),
        })
    print(json.dumps(rows, indent=1, ensure_ascii=False))


if __name__ == "__main__":
    main()
