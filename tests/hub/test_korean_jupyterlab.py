"""Trainees' JupyterLab speaks Korean by default: the pack is installed and the servers' default says ko_KR.

The browser test (test_e2e_browser.py) sees the Korean menus in a spawned server; these check the two parts fast.
"""
from __future__ import annotations

import json
import os
import subprocess
import sys
from pathlib import Path

from jupyterlab_server.translation_utils import get_language_packs

REPO = Path(__file__).resolve().parents[2]
SINGLEUSER = REPO / "deploy" / "singleuser"
LOCALE_PLUGIN = "@jupyterlab/translation-extension:plugin"


def lab_defaults(config_path: Path, tmp_path: Path) -> dict:
    """Return the default-setting overrides a notebook server started with this JUPYTER_CONFIG_PATH would use."""
    code = ("import json\nfrom jupyterlab_server.settings_utils import _get_overrides\n"
            f"print(json.dumps(_get_overrides({str(tmp_path / 'app-settings')!r})[0]))")
    env = {**os.environ, "JUPYTER_CONFIG_PATH": str(config_path), "JUPYTER_CONFIG_DIR": str(tmp_path / "user"),
           "JUPYTER_DATA_DIR": str(tmp_path / "data")}
    out = subprocess.run([sys.executable, "-c", code], env=env, capture_output=True, text=True, check=True)
    return json.loads(out.stdout)


def test_the_korean_language_pack_is_installed_and_pinned():
    """Find ko_KR among JupyterLab's language packs, installed from the pinned requirement."""
    packs, _message = get_language_packs("ko_KR")
    assert "ko_KR" in packs, sorted(packs)
    assert packs["ko_KR"]["displayName"]  # the pack loads, not only its entry point
    pins = (REPO / "requirements.txt").read_text()
    assert "jupyterlab-language-pack-ko-KR==" in pins


def test_servers_on_the_hub_config_path_default_to_korean(tmp_path):
    """Read ko_KR as the default language from deploy/singleuser, and nothing without it.

    Checked: fails when deploy/singleuser/labconfig/default_setting_overrides.json is removed.
    """
    overrides = lab_defaults(SINGLEUSER, tmp_path)
    assert overrides[LOCALE_PLUGIN]["locale"] == "ko_KR"
    assert overrides["@jupyterlab/apputils-extension:notification"]["fetchNews"] == "false"
    assert LOCALE_PLUGIN not in lab_defaults(tmp_path / "elsewhere", tmp_path)


def test_the_local_backend_points_servers_at_the_korean_defaults():
    """The hub's local backend sets JUPYTER_CONFIG_PATH to deploy/singleuser (where labconfig lives)."""
    config = (REPO / "jupyterhub_config.py").read_text()
    assert '"JUPYTER_CONFIG_PATH": lambda spawner: str(ROOT / "deploy" / "singleuser")' in config
    image = (SINGLEUSER / "README.md").read_text()
    assert "/etc/jupyter/labconfig/default_setting_overrides.json" in image
