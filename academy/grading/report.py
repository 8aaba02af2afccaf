"""Report grading results to the portal; the reporter is chosen by configuration."""
from __future__ import annotations

import importlib
import logging
from typing import Callable

import requests

from academy.grading.jobs import GradingResult
from academy.grading.settings import settings
from academy.integrations.service_tokens import RESULTS, TOKEN_HEADER, derive

Reporter = Callable[[GradingResult], None]
log = logging.getLogger(__name__)
_warned = False


class ReportFailed(RuntimeError):
    """The portal did not take the result; the job retries the report later."""


def worker_token() -> str:
    """Return the worker's own token, which may post results and nothing else (ACADEMY_WORKER_TOKEN).

    A worker set up before scoped tokens has only the master secret (ACADEMY_GRADER_TOKEN): its results
    token is derived from it, with a warning, since a worker should not hold what mints every token.
    """
    token = settings.worker_token
    if token:
        return token
    master = settings.grader_token
    if not master:
        return ""
    global _warned
    if not _warned:
        log.warning("the worker holds ACADEMY_GRADER_TOKEN, the master secret: give it ACADEMY_WORKER_TOKEN "
                    "(flask --app wsgi grading service-token results) and take the master away")
        _warned = True
    return derive(master, RESULTS)


def post_result(result: GradingResult) -> None:
    """POST the result as JSON to ACADEMY_PORTAL_URL/api/grading/results with the worker's token."""
    base = settings.portal_url
    if not base:
        log.warning("ACADEMY_PORTAL_URL is not set: result of %s kept only in the store",
                    result.submission_id)
        return
    token = worker_token()
    if not token:
        raise ReportFailed("ACADEMY_WORKER_TOKEN is not set: the portal would refuse the result")
    headers = {TOKEN_HEADER: token}
    try:
        response = requests.post(f"{base.rstrip('/')}/api/grading/results", json=result.to_dict(),
                                 headers=headers, timeout=30)
    except requests.RequestException as exc:
        raise ReportFailed(str(exc)) from exc
    if response.status_code >= 300:
        raise ReportFailed(f"portal answered {response.status_code}")


def load_reporter() -> Reporter:
    """Return the reporter named by ACADEMY_GRADING_REPORTER ('module:function'), else post_result."""
    name = settings.reporter
    module, _, attribute = name.partition(":")
    return getattr(importlib.import_module(module), attribute)
