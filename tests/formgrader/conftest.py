"""The formgrader tests build nbgrader gradebooks, and nbgrader runs `alembic` to create one."""
from __future__ import annotations

import os
import sys
from pathlib import Path

os.environ["PATH"] = f"{Path(sys.executable).parent}{os.pathsep}{os.environ.get('PATH', '')}"
