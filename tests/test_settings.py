"""Settings live in one place: academy.config declares every key the portal reads, writes nothing when imported,
and is (with the other settings modules) the only reader of the environment."""
from __future__ import annotations

import os
import re
import stat
import subprocess
import sys
from pathlib import Path

from academy import create_app
from academy.config import Config, TestConfig

REPO = Path(__file__).resolve().parents[1]
PORTAL = REPO / "academy"

# The settings modules, the one helper they share, and (until it has its own settings object) the grading worker.
# The settings modules: the portal's, the notebook server's, the grading worker's (which also puts the venv on
# PATH), and the sandbox's child, which sets its own environment from the job (zygote.py writes, never reads), and
# the judge, a plain script in its sandbox, which reads the sandbox's data folder and sets the notebook's
# ACADEMY_DATA_DIR for a rerun (rerun_notebook), as the kernel's environment sets it for the notebook's first run.
MAY_READ_THE_ENVIRONMENT = ("academy/env.py", "academy/config.py", "academy/exchange/settings.py",
                            "academy/grading/settings.py", "academy/grading/zygote.py", "academy/grading/judge.py")

# A key the portal reads: app.config.get("KEY"), config["KEY"], or academy.oauth.services.setting("KEY").
READ = re.compile(r'config(?:\.get|\.setdefault)?(?:\(|\[)\s*"([A-Z][A-Z0-9_]+)"|\bsetting\(\s*"([A-Z][A-Z0-9_]+)"')
# A key the code derives itself (create_app, an extension's init), which is no setting of its own.
DERIVED = re.compile(r'config\[\s*"([A-Z][A-Z0-9_]+)"\s*\]\s*=(?!=)|config\.setdefault\(\s*"([A-Z][A-Z0-9_]+)"')


def _portal_sources() -> dict[str, str]:
    return {path.relative_to(REPO).as_posix(): path.read_text(encoding="utf-8") for path in PORTAL.rglob("*.py")}


def test_importing_the_settings_writes_nothing(tmp_path):
    empty, absent = tmp_path / "empty", tmp_path / "absent"
    empty.mkdir()
    for var in (empty, absent):
        environment = {k: v for k, v in os.environ.items() if k not in {"ACADEMY_SECRET_KEY", "DATABASE_URL"}}
        done = subprocess.run([sys.executable, "-c", "import academy.config"], cwd=REPO, capture_output=True,
                              text=True, env={**environment, "ACADEMY_VAR_DIR": str(var)}, timeout=120)
        assert done.returncode == 0, done.stderr[-2000:]
    assert list(empty.iterdir()) == []
    assert not absent.exists()


def test_the_app_keeps_a_private_secret_key_across_restarts_without_one_set(tmp_path, monkeypatch):
    class NoKey(TestConfig):
        SECRET_KEY = None

    monkeypatch.setenv("ACADEMY_VAR_DIR", str(tmp_path / "var"))
    first = create_app(NoKey).config["SECRET_KEY"]
    key_file = tmp_path / "var" / "secret_key"
    assert len(first) == 64 and key_file.read_text() == first
    assert stat.S_IMODE(key_file.stat().st_mode) == 0o600
    assert create_app(NoKey).config["SECRET_KEY"] == first


def test_a_secret_key_from_the_environment_is_used_and_never_written(tmp_path, monkeypatch):
    class WithKey(TestConfig):
        SECRET_KEY = "from-the-environment"

    monkeypatch.setenv("ACADEMY_VAR_DIR", str(tmp_path / "var"))
    assert create_app(WithKey).config["SECRET_KEY"] == "from-the-environment"
    assert (tmp_path / "var").is_dir() and not (tmp_path / "var" / "secret_key").exists()


def test_every_setting_the_portal_reads_is_declared():
    sources = _portal_sources()
    derived = {m.group(1) or m.group(2) for text in sources.values() for m in DERIVED.finditer(text)}
    undeclared = sorted({f"{path}: {m.group(1) or m.group(2)}" for path, text in sources.items()
                         for m in READ.finditer(text)
                         if (m.group(1) or m.group(2)) not in derived and not hasattr(Config, m.group(1) or m.group(2))})
    assert undeclared == []


def test_only_the_settings_modules_read_the_environment():
    readers = sorted(f"{path}:{number}" for path, text in _portal_sources().items()
                     if not path.startswith(MAY_READ_THE_ENVIRONMENT)
                     for number, line in enumerate(text.splitlines(), 1)
                     if "os.environ" in line or "os.getenv" in line or "from os import environ" in line)
    assert readers == []
