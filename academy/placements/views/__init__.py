"""Talent pipeline pages, one module per audience: trainees opt in and rank (trainee), recruiters shortlist and
offer (recruiter), the office runs the match (office), and a placement's own page, which all three see
(placement). They share one blueprint, "placements"."""
from academy.placements.views import office, placement, recruiter, trainee  # noqa: F401 - their routes
from academy.placements.views.blueprint import bp

__all__ = ["bp"]
