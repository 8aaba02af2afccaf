"""nbgrader's exchange backed by the portal's HTTP API, for trainees' notebook servers.

Runs inside the course image, not the portal: it imports only the standard library, requests and
nbgrader (tests/exchange checks this). deploy/singleuser/nbgrader_config.py selects these classes.
"""
from academy.exchange.exchange import PortalExchange
from academy.exchange.fetch import PortalFetchAssignment, PortalFetchFeedback
from academy.exchange.list import PortalList
from academy.exchange.portal_only import PortalCollect, PortalReleaseAssignment, PortalReleaseFeedback
from academy.exchange.submit import PortalSubmit

__all__ = [
    "PortalCollect",
    "PortalExchange",
    "PortalFetchAssignment",
    "PortalFetchFeedback",
    "PortalList",
    "PortalReleaseAssignment",
    "PortalReleaseFeedback",
    "PortalSubmit",
]
