"""The hub's authenticator: GenericOAuthenticator against the portal, refusing whom the portal refuses.

Runs inside JupyterHub, so it imports nothing from the portal. The portal decides who may use
notebooks (its `hub_access` claim); this class enforces that at every login and every refresh,
so a withdrawn trainee is refused at their next login and before their next spawn.
"""
from __future__ import annotations

import re

from oauthenticator.generic import GenericOAuthenticator
from tornado import web

# Hub user names are "u" + the portal's user id: immutable, never derived from an e-mail.
USERNAME = re.compile(r"^u[0-9]{1,12}$")

# Shown on the hub's error page, in Korean and English (the hub page has no language switch).
REFUSALS = {
    "role": (
        "노트북(JupyterHub)은 교육생, 강사, 아카데미 사무국만 사용할 수 있습니다. 기업 담당자와 대학 코디네이터 계정은 사용할 수 없습니다.",
        "Notebooks (JupyterHub) are for trainees, instructors and the academy office only. "
        "Company recruiter and university coordinator accounts cannot use them.",
    ),
    "not_enrolled": (
        "현재 수강 중인 기수가 없어 노트북을 사용할 수 없습니다. 수료 또는 중도 하차 후에는 접속할 수 없습니다. 문의: 아카데미 사무국.",
        "You are not enrolled in an active cohort, so notebooks are closed to you "
        "(after completion or withdrawal access ends). Questions: the academy office.",
    ),
    "disabled": ("이 계정은 사용이 중지되었습니다.", "This account is disabled."),
    "consent": ("개인정보 처리방침이 바뀌었습니다. 포털에 로그인하여 다시 동의한 뒤 노트북을 여세요.",
                "The privacy policy has changed: sign in at the portal and give your consent again, then open "
                "the notebooks."),
}
DEFAULT_REFUSAL = ("이 계정으로는 노트북을 사용할 수 없습니다.", "This account cannot use the notebooks.")


class Refused(web.HTTPError):
    """A 403 whose message the hub's error page shows as it is."""

    def __init__(self, code: str | None):
        ko, en = REFUSALS.get(code or "", DEFAULT_REFUSAL)
        super().__init__(403, "%s / %s", ko, en)
        self.jupyterhub_message = f"{ko} / {en}"


def refusal(user_info: dict) -> str | None:
    """Return why the portal's claims refuse the user, or None when they may use the hub."""
    name, sub = user_info.get("preferred_username", ""), str(user_info.get("sub", ""))
    if not USERNAME.match(name or "") or name != f"u{sub}":
        return "invalid"
    if user_info.get("hub_access") is not True:
        return user_info.get("hub_refusal") or "invalid"
    return None


class PortalAuthenticator(GenericOAuthenticator):
    """Sign in through the portal; allow exactly the users the portal's hub_access claim allows."""

    async def check_allowed(self, username: str, auth_model: dict | None) -> bool:
        if auth_model is None:
            return True  # JupyterHub asks this for existing users at start-up
        code = refusal(auth_model["auth_state"].get(self.user_auth_state_key) or {})
        if code is not None:
            self.log.info("portal refused hub access to %s: %s", username, code)
            raise Refused(code)
        return True

    async def refresh_user(self, user, handler=None, **kwargs):
        """Re-ask the portal; a user it no longer allows must sign in again (and is refused then)."""
        result = await super().refresh_user(user, handler, **kwargs)
        if isinstance(result, dict):
            info = (result.get("auth_state") or {}).get(self.user_auth_state_key) or {}
            if refusal(info) is not None:
                self.log.info("portal no longer allows %s: sign-in required", user.name)
                return False
        return result
