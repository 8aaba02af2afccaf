"""Talent pipeline services: the domain errors shared by its modules.

The work itself lives in one module per concern: `profiles` (competency levels from grades),
`consent` (opt-in, ranking, withdrawal, company access), `rounds` (shortlists and the match round),
`offers` (offers, placements, evaluations, follow-ups) and `retention` (purging expired rounds).
Each function changes the session and leaves the commit to the caller.
"""
from __future__ import annotations



class PlacementError(ValueError):
    """A step of the talent pipeline that breaks a rule; the message is shown to the user."""


class NoOpenRound(PlacementError):
    pass


class ConsentMissing(PlacementError):
    pass


class RoundStateError(PlacementError):
    pass


class NotInRound(PlacementError):
    """A demand that takes no part in the match round it is named with."""


class OfferClosed(PlacementError):
    pass


class OfferExpired(OfferClosed):
    """The offer's deadline has passed: it is marked expired, and that change stays although the answer is refused."""

    keeps_changes = True


class DemandFull(PlacementError):
    pass


class AlreadyPlaced(PlacementError):
    pass
