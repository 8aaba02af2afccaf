"""Report grading results to the portal; the reporter is chosen by configuration."""
from __future__ import annotations

import importlib
import logging
import os
from typing import Callable

import requests

from academy.grading.jobs import GradingResult

Reporter = Callable[[GradingResult], None]
TOKEN_HEADER = "X-Academy-Grader-Token"
log = logging.getLogger(__name__)


class ReportFailed(RuntimeError):
    """The portal did not take the result; the job retries the report later."""


def post_result(result: GradingResult) -> None:
    """POST the result as JSON to ACADEMY_PORTAL_URL/api/grading/results with the shared secret."""
    base = os.environ.get("ACADEMY_PORTAL_URL")
    if not base:
        log.warning("ACADEMY_PORTAL_URL is not set: result of %s kept only in the store",
                    result.submission_id)
        return
    headers = {TOKEN_HEADER: os.environ.get("ACADEMY_GRADER_TOKEN", "")}
    try:
        response = requests.post(f"{base.rstrip('/')}/api/grading/results", json=result.to_dict(),
                                 headers=headers, timeout=30)
    except requests.RequestException as exc:
        raise ReportFailed(str(exc)) from exc
    if response.status_code >= 300:
        raise ReportFailed(f"portal answered {response.status_code}")


def load_reporter() -> Reporter:
    """Return the reporter named by ACADEMY_GRADING_REPORTER ('module:function'), else post_result."""
    name = os.environ.get("ACADEMY_GRADING_REPORTER", "academy.grading.report:post_result")
    module, _, attribute = name.partition(":")
    return getattr(importlib.import_module(module), attribute)
