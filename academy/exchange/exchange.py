"""The one door to the portal's exchange API, for nbgrader running in a trainee's notebook server.

Every call carries the trainee's own portal token. The freshest copy is in the hub (it refreshes the
sign-in every few minutes): the server's own hub token may read it where the hub grants users and the
`server` role `admin:auth_state!user` (jupyterhub_config.py). Without that, the token the hub put in the
server's environment at spawn time (ACADEMY_PORTAL_TOKEN, valid one hour) is used.
"""
from __future__ import annotations

import os
from urllib.parse import quote
from datetime import datetime, timezone
from zoneinfo import ZoneInfo, ZoneInfoNotFoundError
from textwrap import dedent

import requests
from nbgrader.exchange.abc import Exchange, ExchangeError
from traitlets import Bool, Float, Unicode, default

from academy.exchange.settings import hub_api, portal_token, portal_url

# Messages of our own, in Korean and English like the hub's (the notebook server has no language switch).
MESSAGES = {
    "no_portal": (
        "이 노트북 서버에는 포털 주소(ACADEMY_PORTAL_URL)가 설정되어 있지 않습니다. 아카데미 사무국에 문의하세요.",
        "This notebook server does not know the portal's address (ACADEMY_PORTAL_URL). Contact the academy office.",
    ),
    "no_token": (
        "포털 로그인 정보가 없습니다. 허브 홈 페이지(/hub/home)에서 서버를 중지한 뒤 다시 시작하세요.",
        "No portal sign-in was found for this server. Stop and start your server from the hub home page "
        "(/hub/home), then retry.",
    ),
    "unreachable": (
        "포털({url})에 연결할 수 없습니다. 잠시 후 다시 시도하세요. 계속되면 아카데미 사무국에 문의하세요.",
        "Cannot reach the portal ({url}). Retry in a minute; if it keeps failing, contact the academy office.",
    ),
    "expired": (
        "포털 로그인이 만료되었습니다. 허브 홈 페이지(/hub/home)를 새로 고쳐 로그인을 갱신한 뒤 다시 시도하세요.",
        "Your portal sign-in has expired. Open the hub home page (/hub/home) to renew it, then retry.",
    ),
    "portal_error": (
        "포털 오류(HTTP {status}). 잠시 후 다시 시도하세요.",
        "The portal answered with an error (HTTP {status}). Retry in a minute.",
    ),
    "instructor_only": (
        "{what}은(는) 포털에서 합니다(강사용 과정 페이지).",
        "{what_en} is done in the portal (the instructor's course pages), not from the notebook server.",
    ),
}


def message(key: str, **values) -> str:
    """Return one of our messages in both languages, Korean first."""
    ko, en = MESSAGES[key]
    return f"{ko.format(**values)} / {en.format(**values)}"


class PortalExchange(Exchange):
    """Talk to the portal for one nbgrader action (list, fetch, submit or fetch feedback)."""

    portal_url = Unicode(
        help="The portal's address as the notebook server reaches it; defaults to $ACADEMY_PORTAL_URL."
    ).tag(config=True)

    @default("portal_url")
    def _portal_url_default(self):
        return portal_url()

    request_timeout = Float(
        30.0, help="Seconds to wait for the portal before reporting it unreachable (uploads included)."
    ).tag(config=True)

    use_hub_auth_state = Bool(
        True,
        help=dedent("""
            Ask the hub for the user's current portal token (needs the server role scope
            admin:auth_state!user) before falling back to $ACADEMY_PORTAL_TOKEN.
        """),
    ).tag(config=True)

    path_includes_course = Bool(
        False, help="Keep assignments under <course>/<assignment> instead of <assignment> (as the default exchange)."
    ).tag(config=True)

    _session: requests.Session | None = None

    # --- talking to the portal ---------------------------------------------------------------

    def hub_token(self) -> str | None:
        """Return the portal token from the user's auth state in the hub, or None when not allowed."""
        api, token, user = hub_api()
        if not (self.use_hub_auth_state and api and token and user):
            return None
        try:
            # /users/<name>, not /user: only the former fills in auth_state (JupyterHub 5-6). The call also
            # makes the hub refresh the sign-in when it is older than auth_refresh_age.
            reply = requests.get(f"{api.rstrip('/')}/users/{quote(user)}",
                                 headers={"Authorization": f"token {token}"}, timeout=min(self.request_timeout, 10))
            state = reply.json().get("auth_state") if reply.ok else None
        except (requests.RequestException, ValueError) as exc:
            self.log.warning("Could not ask the hub for a fresh portal token (%s); using the server's own.", exc)
            return None
        if not state:
            self.log.debug("The hub did not share auth_state (HTTP %s); using $ACADEMY_PORTAL_TOKEN.",
                           reply.status_code)
            return None
        return state.get("access_token") or None

    def portal_token(self) -> str:
        token = self.hub_token() or portal_token()
        if not token:
            self.fail(message("no_token"))
        return token

    @property
    def session(self) -> requests.Session:
        if self._session is None:
            if not self.portal_url:
                self.fail(message("no_portal"))
            session = requests.Session()
            session.headers["Authorization"] = f"Bearer {self.portal_token()}"
            session.headers["User-Agent"] = "academy-nbgrader-exchange"
            self._session = session
        return self._session

    def call(self, method: str, path: str, *, expect=(200,), **kwargs) -> requests.Response:
        """Call the portal; return the response when its status is expected, else fail with a clear message."""
        url = self.portal_url.rstrip("/") + path
        try:
            reply = self.session.request(method, url, timeout=self.request_timeout, **kwargs)
        except requests.RequestException as exc:
            self.log.debug("portal call %s %s failed: %s", method, url, exc)
            self.fail(message("unreachable", url=self.portal_url))
        if reply.status_code in expect:
            return reply
        if reply.status_code == 401:
            self.fail(message("expired"))
        # 403 and 422 carry the portal's own reason (not your course, past the cut-off, ...), in its language.
        self.fail(self.portal_error_text(reply) or message("portal_error", status=reply.status_code))

    @staticmethod
    def portal_error_text(reply: requests.Response) -> str:
        try:
            body = reply.json()
        except ValueError:
            return ""
        return str(body.get("error") or "") if isinstance(body, dict) else ""

    def portal_json(self, path: str, **params):
        reply = self.call("GET", path, params={k: v for k, v in params.items() if v})
        try:
            return reply.json()
        except ValueError:
            self.fail(message("portal_error", status=reply.status_code))

    # --- what the portal knows ---------------------------------------------------------------

    def released_assignments(self, course_id: str = "") -> list[dict]:
        """Return the assignments the portal has released to this trainee (optionally of one course)."""
        return list(self.portal_json("/api/exchange/assignments", course=course_id))

    def my_submissions(self, course_id: str = "", assignment_id: str = "") -> list[dict]:
        """Return this trainee's own submissions, newest first."""
        return list(self.portal_json("/api/exchange/submissions", course=course_id, assignment=assignment_id))

    def find_released(self, course_id: str, assignment_id: str) -> dict:
        """Return the portal's record of a released assignment, inferring the course when it is unique."""
        released = self.released_assignments(course_id)
        matches = [a for a in released if a["assignment"] == assignment_id]
        if len(matches) == 1:
            if not course_id:
                self.coursedir.course_id = matches[0]["course"]
            return matches[0]
        if len(matches) > 1:
            courses = ", ".join(sorted(a["course"] for a in matches))
            self.fail(f"Assignment {assignment_id} is in several of your courses ({courses}): re-run with --course.")
        names = ", ".join(sorted(f"{a['course']}/{a['assignment']}" for a in released)) or "none"
        where = f" in course {course_id}" if course_id else ""
        self.fail(f"과제 {assignment_id}은(는) 아직 공개되지 않았습니다 / Assignment {assignment_id} has not been "
                  f"released to you{where}. Released to you: {names}.")

    # --- local paths and times ---------------------------------------------------------------

    def local_dir(self, course_id: str, assignment_id: str) -> str:
        """Return where this assignment lives in the trainee's folder (as the default exchange)."""
        parts = [course_id, assignment_id] if self.path_includes_course else [assignment_id]
        return os.path.abspath(os.path.join(self.assignment_dir, *parts))

    def local_timestamp(self, iso: str) -> str:
        """Return the portal's ISO time in nbgrader's timestamp format (the feedback folder's name)."""
        when = datetime.fromisoformat(iso)
        if when.tzinfo is None:
            when = when.replace(tzinfo=timezone.utc)
        try:
            zone = ZoneInfo(self.timezone)
        except (ZoneInfoNotFoundError, ValueError):
            zone = timezone.utc
        return when.astimezone(zone).strftime(self.timestamp_format)

    def init_src(self):
        pass

    def init_dest(self):
        pass

    def copy_files(self):
        pass


__all__ = ["ExchangeError", "PortalExchange", "message"]
