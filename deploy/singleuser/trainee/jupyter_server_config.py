"""Trainees' servers: load the academy's JupyterLab extension (labextension/: Check and Submit in an assignment
notebook, the courses on the launcher), built by scripts/install.sh into labextension/built/@academy/lab.

Only this layer (deploy/singleuser/trainee, read for trainees only) names it, so instructors' JupyterLab does not
show it. A course image installs the built folder as /usr/local/share/jupyter/labextensions/@academy/lab instead
(deploy/singleuser/README.md), where JupyterLab finds it without this file.
"""
from pathlib import Path

c = get_config()  # noqa: F821 - injected by traitlets when it loads this file

BUILT = Path(__file__).resolve().parents[3] / "labextension" / "built"  # holds @academy/lab/
if (BUILT / "@academy" / "lab" / "package.json").is_file():
    c.LabApp.extra_labextensions_path = [str(BUILT)]
