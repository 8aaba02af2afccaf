"""The ungraded notebooks (dataset tour, GPU check) run from top to bottom on the shared data."""

from __future__ import annotations

import json
from pathlib import Path

import nbformat
import pytest
from nbclient import NotebookClient

NOTEBOOKS = Path(__file__).resolve().parents[2] / "notebooks"


def execute(name: str, data_dir: Path, tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> nbformat.NotebookNode:
    """Run a notebook in a fresh kernel that reads data from data_dir, and return it with outputs."""
    monkeypatch.setenv("ACADEMY_DATA_DIR", str(data_dir))
    monkeypatch.setenv("MPLBACKEND", "Agg")
    monkeypatch.setenv("IPYTHONDIR", str(tmp_path / "ipython"))
    nb = nbformat.read(NOTEBOOKS / name, as_version=4)
    NotebookClient(nb, timeout=180, kernel_name="python3", resources={"metadata": {"path": str(tmp_path)}}).execute()
    return nb


def outputs_text(nb: nbformat.NotebookNode) -> str:
    """Join the text and plain-text results of every cell."""
    parts = []
    for cell in nb.cells:
        for out in cell.get("outputs", []):
            parts.append(out.get("text", ""))
            parts.append(out.get("data", {}).get("text/plain", ""))
    return "\n".join(parts)


def test_tour_loads_every_dataset(shared_data: Path, tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    """Check the tour shows each dataset's known shape."""
    text = outputs_text(execute("datasets_tour.ipynb", shared_data, tmp_path, monkeypatch))
    for expected in ["(10000, 14)", "100 engines", "1797_Normal.npz", "(36733, 12)", "1800", "(35040, 12)",
                     "(1941, 34)", "monotonic: True", "9 files", "OR@6"]:
        assert expected in text


def test_gpu_check_runs_a_matmul(tmp_path: Path, monkeypatch: pytest.MonkeyPatch, shared_data: Path) -> None:
    """Check the GPU notebook reports the device and a correct product on whatever this machine has."""
    # Imported here: torch takes seconds to import and only this test needs it.
    import torch

    nb = execute("gpu_check.ipynb", shared_data, tmp_path, monkeypatch)
    result = nb.cells[-1].outputs[-1]["data"]["text/plain"]
    expected = "cuda" if torch.cuda.is_available() else "cpu"
    assert f"'device': '{expected}'" in result
    assert "max_relative_error" in result and json.dumps(torch.cuda.is_available()).capitalize() in result
