"""One click from the portal into the lab: `/academy/start` in a trainee's notebook server.

The portal's "Start in JupyterLab" links go to HUB/hub/user-redirect/academy/start?course=<nbgrader course>&
assignment=<nbgrader assignment>. The hub signs the trainee in through the portal (no second sign-in), starts
their server if it is stopped (showing its progress page), and sends them here, to their own server. This
handler fetches the assignment through the portal exchange, as nbgrader's assignment list does, unless its
folder is already in the trainee's home (work in progress is never overwritten or fetched over), then opens its
notebook in JupyterLab. It notes which course each folder it fetched is for (.academy/started.json): a folder of
the same name fetched for another course is refused with a message, never opened as this course's work.

A jupyter_server extension: deploy/singleuser/jupyter_server_config.d/academy-start.json enables it (the course
image copies that file to /etc/jupyter/jupyter_server_config.d/). Like the rest of academy/exchange it imports
only the standard library, nbgrader and Jupyter's own packages.
"""
from __future__ import annotations

import html
import json
import re
from pathlib import Path
from typing import Any

from jupyter_server.base.handlers import JupyterHandler
from jupyter_server.utils import url_escape, url_path_join
from tornado import web

# nbgrader's own course and assignment ids: letters, digits, "_", "-", "." (no "/", no leading dot).
NAME = re.compile(r"[A-Za-z0-9][A-Za-z0-9_.-]{0,99}")
STARTED = Path(".academy") / "started.json"  # in the server's root: assignment folder -> the course it was fetched for

ERROR_PAGE = """<!DOCTYPE html>
<html lang="ko"><head><meta charset="utf-8"><meta name="viewport" content="width=device-width, initial-scale=1">
<title>과제를 열 수 없습니다 / The assignment could not be opened</title>
<style>body{{font-family:"NanumGothic","Noto Sans KR",system-ui,sans-serif;margin:2rem;max-width:40rem;color:#1d2433;
line-height:1.5}} code{{background:#f6f7fa;padding:.1rem .3rem}}</style></head>
<body><h1>과제를 열 수 없습니다 / The assignment could not be opened</h1>
<p>{ko}</p><p>{en}</p>{detail}
<p><a href="{lab}">JupyterLab으로 가기 / Go to JupyterLab</a></p></body></html>"""


def _started(root: Path) -> dict[str, str]:
    """Return which course each assignment folder this handler fetched belongs to ({} when unknown)."""
    try:
        data = json.loads((root / STARTED).read_text(encoding="utf-8"))
    except (OSError, ValueError):
        return {}
    return {k: v for k, v in data.items() if isinstance(k, str) and isinstance(v, str)} if isinstance(data, dict) else {}


def _record_started(root: Path, assignment: str, course: str) -> None:
    """Note the course of a folder just fetched (a best effort: a trainee may edit or delete the note)."""
    try:
        (root / STARTED).parent.mkdir(exist_ok=True)
        (root / STARTED).write_text(json.dumps({**_started(root), assignment: course}), encoding="utf-8")
    except OSError:
        pass


def _notebook(folder: Path, assignment: str) -> Path | None:
    """Return the assignment's notebook: the one named after it, else the first by name."""
    notebooks = sorted(p for p in folder.glob("*.ipynb") if p.is_file())
    named = folder / f"{assignment}.ipynb"
    return named if named in notebooks else (notebooks[0] if notebooks else None)


class StartHandler(JupyterHandler):
    """Fetch the assignment once (through the portal exchange), then open its notebook."""

    @web.authenticated
    def get(self) -> None:
        course, assignment = self.get_argument("course", ""), self.get_argument("assignment", "")
        if not NAME.fullmatch(course) or not NAME.fullmatch(assignment) or ".." in assignment:
            self._error(400, "과제 주소가 올바르지 않습니다.", "The assignment's address is not valid.")
            return
        root = Path(self.settings["server_root_dir"]).expanduser()
        folder = root / assignment
        fetched_for = _started(root).get(assignment)
        if folder.is_dir() and fetched_for not in (None, course):
            # Two courses may name an assignment alike; the folder is named after the assignment only (as
            # nbgrader's assignment list fetches it): never open another course's work as this one.
            self._error(409, f"홈 폴더의 {assignment} 폴더에는 다른 과목({fetched_for})의 과제가 있습니다. 그 폴더의 이름을 "
                             "바꾼 뒤 다시 시도하세요.",
                        f"The folder {assignment} in your home holds another course's assignment ({fetched_for}). "
                        "Rename that folder, then try again.")
            return
        if not folder.exists():
            # nbgrader's own fetch (its assignment list's manager), which uses the portal exchange; synchronous
            # as nbgrader's handler is: it changes the process's working folder while it runs.
            from nbgrader.server_extensions.assignment_list.handlers import AssignmentList

            manager = AssignmentList(parent=self.settings.get("serverapp"))
            manager.root_dir = str(root)
            result = manager.fetch_assignment(course, assignment)
            if not result.get("success") or not folder.is_dir():
                reason = str(result.get("value") or "").strip().splitlines()  # the exchange's own message last
                detail = re.sub(r"^[\w.]+(Error|Exception): ", "", reason[-1]) if reason else ""
                self._error(502, "포털에서 과제를 가져오지 못했습니다. 잠시 후 다시 시도하거나 강사에게 알려 주세요.",
                            "The assignment could not be fetched from the portal. Try again in a moment or tell "
                            "your instructor.", detail)
                return
            _record_started(root, assignment, course)
        if not folder.is_dir():
            self._error(409, f"홈 폴더에 과제와 같은 이름({assignment})의 파일이 있어 과제 폴더를 만들 수 없습니다.",
                        f"A file named {assignment} in your home folder is in the way of the assignment's folder.")
            return
        notebook = _notebook(folder, assignment)
        target = [assignment, notebook.name] if notebook is not None else [assignment]
        self.redirect(url_path_join(self.base_url, "lab", "tree", *(url_escape(part) for part in target)))

    def _error(self, status: int, ko: str, en: str, detail: str = "") -> None:
        self.set_status(status)
        self.set_header("Content-Type", "text/html; charset=utf-8")
        shown = f"<p><code>{html.escape(detail[:500])}</code></p>" if detail else ""
        self.finish(ERROR_PAGE.format(ko=html.escape(ko), en=html.escape(en), detail=shown,
                                      lab=html.escape(url_path_join(self.base_url, "lab"))))


def _jupyter_server_extension_points() -> list[dict[str, Any]]:
    return [{"module": "academy.exchange.start"}]


def _load_jupyter_server_extension(serverapp: Any) -> None:
    web_app = serverapp.web_app
    route = url_path_join(web_app.settings["base_url"], "academy", "start")
    web_app.add_handlers(".*$", [(route, StartHandler)])
