"""The formgrader services and roles the hub gets for the course folders (config level, no hub started)."""
from __future__ import annotations

import re
import shutil
from pathlib import Path

import pytest

from academy.integrations.formgrader import course_folders, formgrader_path, formgrader_services

REPO = Path(__file__).resolve().parents[2]
COURSES = REPO / "courses"
TOKEN = "g" * 40


def build(courses_dir: Path, tmp_path: Path, **env):
    return formgrader_services(courses_dir, {"ACADEMY_GRADER_TOKEN": TOKEN, **env}, state_dir=tmp_path / "fg",
                               portal_url="http://10.0.0.2:5000", python="/venv/bin/python", allow_root=False)


def test_each_real_course_gets_a_formgrader_only_its_instructors_group_can_open(tmp_path):
    services, roles = build(COURSES, tmp_path)
    courses = [p.name for p in course_folders(COURSES)]
    assert "manufacturing-ai" in courses
    by_name = {s["name"]: s for s in services}
    assert set(by_name) == {f"formgrade-{c}" for c in courses} | {"formgrade-sync"}
    service = by_name["formgrade-manufacturing-ai"]
    folder = COURSES / "manufacturing-ai"
    # Unset base port: a free loopback port, picked when the hub loads its config.
    assert re.fullmatch(r"http://127\.0\.0\.1:\d{4,5}", service["url"])
    assert service["timeout"] == 120  # a formgrader slow to start on a busy machine must not stop the hub
    assert service["command"][:3] == ["/venv/bin/python", "-m", "jupyterhub.singleuser"]
    assert f"--ServerApp.root_dir={folder}" in service["command"] and service["cwd"] == str(folder)
    assert "--allow-root" not in service["command"]
    assert service["oauth_no_confirm"] is True
    assert service["environment"]["JUPYTERHUB_DEFAULT_URL"] == "/formgrader"
    assert service["environment"]["JUPYTER_RUNTIME_DIR"].startswith(str(tmp_path / "fg" / "manufacturing-ai"))
    assert formgrader_path("manufacturing-ai") == "/services/formgrade-manufacturing-ai/formgrader"

    role = {r["name"]: r for r in roles}["formgrade-manufacturing-ai"]
    # The course's instructors' group and nobody else: no users, no services, no other group.
    assert role["groups"] == ["formgrade-manufacturing-ai"] and "users" not in role and "services" not in role
    assert set(role["scopes"]) == {"access:services!service=formgrade-manufacturing-ai",
                                   "read:services!service=formgrade-manufacturing-ai"}
    assert len(roles) == len(courses)


def test_the_formgrader_command_enables_the_formgrader_extension(tmp_path):
    from jupyter_server.serverapp import ServerApp

    services, _ = build(COURSES, tmp_path)
    command = {s["name"]: s for s in services}["formgrade-manufacturing-ai"]["command"]
    app = ServerApp()
    app.parse_command_line(command[3:])
    assert app.jpserver_extensions["nbgrader.server_extensions.formgrader"] is True
    assert app.jpserver_extensions["nbgrader.server_extensions.assignment_list"] is False
    assert app.root_dir == str(COURSES / "manufacturing-ai")


def test_one_sync_service_covers_every_course_with_the_portal_and_token(tmp_path):
    courses = tmp_path / "courses"
    for name in ("b-course", "a-course"):
        (courses / name).mkdir(parents=True)
        shutil.copy(COURSES / "manufacturing-ai" / "nbgrader_config.py", courses / name)
    (courses / "notes").mkdir()  # not a course: no nbgrader_config.py
    services, roles = build(courses, tmp_path, ACADEMY_FORMGRADER_BASE_PORT="9800", ACADEMY_FORMGRADER_SYNC_EVERY="15",
                            ACADEMY_FORMGRADER_START_TIMEOUT="60",
                            ACADEMY_GRADEBOOK_URL="postgresql://gb/academy")
    by_name = {s["name"]: s for s in services}
    assert [by_name[f"formgrade-{c}"]["url"] for c in ("a-course", "b-course")] == [
        "http://127.0.0.1:9800", "http://127.0.0.1:9801"]
    assert by_name["formgrade-a-course"]["environment"]["ACADEMY_GRADEBOOK_URL"] == "postgresql://gb/academy"
    assert by_name["formgrade-a-course"]["timeout"] == 60 and "user" not in by_name["formgrade-a-course"]
    sync = by_name["formgrade-sync"]
    assert "url" not in sync and sync["display"] is False
    command = sync["command"]
    assert command[:3] == ["/venv/bin/python", "-m", "academy.grading.manual_sync"]
    assert command[command.index("--every") + 1] == "15"
    dirs = [command[i + 1] for i, arg in enumerate(command) if arg == "--course-dir"]
    assert dirs == [str(courses / "a-course"), str(courses / "b-course")]
    assert sync["environment"] == {"ACADEMY_PORTAL_URL": "http://10.0.0.2:5000", "ACADEMY_GRADER_TOKEN": TOKEN,
                                   "ACADEMY_GRADEBOOK_URL": "postgresql://gb/academy"}
    assert [r["groups"] for r in roles] == [["formgrade-a-course"], ["formgrade-b-course"]]


def test_formgraders_can_run_as_their_own_os_user(tmp_path):
    services, _ = build(COURSES, tmp_path, ACADEMY_FORMGRADER_USER="grader")
    assert {s["name"]: s for s in services}["formgrade-manufacturing-ai"]["user"] == "grader"


def test_switched_off_or_without_courses_there_is_nothing(tmp_path):
    assert build(COURSES, tmp_path, ACADEMY_FORMGRADERS="off") == ([], [])
    assert build(tmp_path / "missing", tmp_path) == ([], [])


def test_without_a_grader_token_the_formgraders_run_but_nothing_syncs(tmp_path):
    services, roles = formgrader_services(COURSES, {}, state_dir=tmp_path, portal_url="http://p")
    assert "formgrade-sync" not in {s["name"] for s in services} and roles


def test_a_course_folder_name_unfit_for_a_url_is_refused(tmp_path):
    bad = tmp_path / "Bad Course"
    bad.mkdir()
    (bad / "nbgrader_config.py").write_text("")
    with pytest.raises(ValueError, match="course folder names"):
        build(tmp_path, tmp_path)


def test_the_hub_config_carries_the_formgraders_once_wired(monkeypatch, tmp_path):
    """jupyterhub_config.py adds these services and roles."""
    from tests.hub.test_hub_config import load

    c = load(monkeypatch, tmp_path, None, ACADEMY_GRADER_TOKEN=TOKEN)
    services = {s["name"]: s for s in c.JupyterHub.services}
    roles = {r["name"]: r for r in c.JupyterHub.load_roles}
    assert "formgrade-manufacturing-ai" in services and "formgrade-sync" in services
    assert roles["formgrade-manufacturing-ai"]["groups"] == ["formgrade-manufacturing-ai"]
    assert {"academy-portal", "idle-culler"} <= set(services)
