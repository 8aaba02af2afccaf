"""The answer to a trainee who submits one assignment too often: 429, in Korean and English, with when to retry."""
from __future__ import annotations

import math
import time
from datetime import UTC, datetime

from flask import Response, current_app, jsonify
from flask_babel import format_datetime

from academy.extensions import limiter

UNITS = {"second": ("초", "second"), "minute": ("분", "minute"), "hour": ("시간", "hour"),
         "day": ("일", "day"), "month": ("개월", "month"), "year": ("년", "year")}


def _duration(seconds: int) -> tuple[str, str]:
    """Return a wait as Korean and English words ("3분 20초", "3 min 20 s")."""
    hours, rest = divmod(seconds, 3600)
    minutes, secs = divmod(rest, 60)
    parts = [(hours, "시간", "h"), (minutes, "분", "min"), (secs, "초", "s")]
    shown = [(n, ko, en) for n, ko, en in parts if n] or [(0, "초", "s")]
    return " ".join(f"{n}{ko}" for n, ko, _ in shown), " ".join(f"{n} {en}" for n, _, en in shown)


def _window(item) -> tuple[str, str]:
    """Return a limit's window in Korean and English ("10분", "10 minutes")."""
    ko, en = UNITS.get(item.GRANULARITY.name, (item.GRANULARITY.name, item.GRANULARITY.name))
    if item.multiples == 1:
        return f"1{ko}", en
    return f"{item.multiples}{ko}", f"{item.multiples} {en}s"


def too_many_submissions() -> Response:
    """Answer 429: how many submissions the window allows, and when (in how long, and at what time) to retry."""
    current = limiter.current_limit
    reset_at = current.reset_at if current is not None else int(time.time()) + 60
    wait = max(1, math.ceil(reset_at - time.time()))  # reset_at is whole seconds, at or after the window's end
    at = format_datetime(datetime.fromtimestamp(reset_at, UTC), "HH:mm:ss")
    wait_ko, wait_en = _duration(wait)
    zone = current_app.config.get("BABEL_DEFAULT_TIMEZONE", "Asia/Seoul")
    zone_ko, zone_en = ("한국 시각", "Korea time") if zone == "Asia/Seoul" else (zone, zone)
    if current is not None:
        item = current.limit
        window_ko, window_en = _window(item)
        rule_ko = f"이 과제는 {window_ko}에 {item.amount}번까지 제출할 수 있습니다. "
        noun = "submission" if item.amount == 1 else "submissions"
        rule_en = f"This assignment takes at most {item.amount} {noun} per {window_en}. "
    else:
        rule_ko = rule_en = ""
    message = (f"제출이 너무 잦습니다. {rule_ko}{wait_ko} 뒤({zone_ko} {at} 이후)에 다시 제출하세요. "
               f"마지막으로 받은 제출은 그대로 채점됩니다. / Too many submissions. {rule_en}Submit again in "
               f"{wait_en} (after {at} {zone_en}). Your last accepted submission is graded as usual.")
    response = jsonify(error=message, retry_after=wait,
                       retry_at=datetime.fromtimestamp(reset_at, UTC).isoformat())
    response.status_code = 429
    # Flask-Limiter rewrites Retry-After from the later of its reset time and this one, rounding down twice;
    # one second more here makes what it sends the same wait as the message, never a second early.
    response.headers["Retry-After"] = str(wait + 1)
    return response
