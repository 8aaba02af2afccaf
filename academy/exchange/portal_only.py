"""Instructor actions of nbgrader's exchange, which the portal owns: they refuse with a pointer to it."""
from __future__ import annotations

from nbgrader.exchange.abc import ExchangeCollect, ExchangeReleaseAssignment, ExchangeReleaseFeedback

from academy.exchange.exchange import PortalExchange, message


class _PortalOnly(PortalExchange):
    what = ("", "")

    def start(self):
        ko, en = self.what
        self.fail(message("instructor_only", what=ko, what_en=en))


class PortalReleaseAssignment(_PortalOnly, ExchangeReleaseAssignment):
    what = ("과제 공개와 마감일 설정", "Releasing an assignment (with its due dates)")


class PortalReleaseFeedback(_PortalOnly, ExchangeReleaseFeedback):
    what = ("피드백 공개", "Releasing feedback (the grading workers send it to the portal)")


class PortalCollect(_PortalOnly, ExchangeCollect):
    what = ("제출물 수집", "Collecting submissions (every submission is already in the portal)")
