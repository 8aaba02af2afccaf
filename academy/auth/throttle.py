"""Password guesses are counted before they are checked, and given back when they were right.

Flask-Limiter's `deduct_when` only tests a limit before the view and counts the failure after it,
so any number of guesses sent at the same moment all pass the test before the first failure is
counted. The password routes therefore use plain limits, which Flask-Limiter counts with one
atomic increment before the view runs (a guess past the limit never reaches the password check),
and a right password gives its attempt back with `refund_attempt`.
"""
from __future__ import annotations

from flask import current_app
from limits.strategies import FixedWindowRateLimiter

from academy.extensions import limiter


def refund_attempt() -> None:
    """Give back the attempt this request counted against each of its limits (the password was right)."""
    if not isinstance(limiter.limiter, FixedWindowRateLimiter):
        return  # other strategies cannot give one back: a right password then counts too
    for request_limit in limiter.current_limits:
        if request_limit.breached:
            continue
        try:
            left = limiter.storage.incr(request_limit.key, request_limit.limit.get_expiry(), amount=-1)
            if left < 0:  # the window ended in between: its new count starts at zero, not below
                limiter.storage.incr(request_limit.key, request_limit.limit.get_expiry(), amount=1)
        except Exception:  # noqa: BLE001 - a counter store that is down must not refuse a right password
            current_app.logger.exception("could not give back a sign-in attempt")
