"""Settings of the exchange in a trainee's notebook server: the only reader of the environment there.

The hub's spawner sets them (jupyterhub_config.py, pass_portal_token; JupyterHub's own JUPYTERHUB_*). Each is
read when asked, not at import, as the values may be set after the exchange is loaded. The course image
installs academy/exchange/ alone (deploy/singleuser/README.md), so this module reads os.environ itself rather
than through academy.env.
"""
from __future__ import annotations

import os


def portal_url() -> str:
    """Return the portal's address as this server reaches it (ACADEMY_PORTAL_URL), or ""."""
    return os.environ.get("ACADEMY_PORTAL_URL", "")


def portal_token() -> str:
    """Return the portal token the hub put in this server's environment at spawn (ACADEMY_PORTAL_TOKEN), or ""."""
    return os.environ.get("ACADEMY_PORTAL_TOKEN", "")


def hub_api() -> tuple[str | None, str | None, str | None]:
    """Return the hub's API URL, this server's hub token and its user's name (JupyterHub sets all three)."""
    return os.environ.get("JUPYTERHUB_API_URL"), os.environ.get("JUPYTERHUB_API_TOKEN"), hub_user()


def hub_user() -> str | None:
    """Return the name of the user this server belongs to (JUPYTERHUB_USER)."""
    return os.environ.get("JUPYTERHUB_USER")


def portal_public_url() -> str:
    """Return the portal's address as the trainee's browser reaches it (ACADEMY_PORTAL_PUBLIC_URL), for links;
    the hub may set it when the servers reach the portal at another address, else it is ACADEMY_PORTAL_URL."""
    return os.environ.get("ACADEMY_PORTAL_PUBLIC_URL", "") or portal_url()


def tour_notebook() -> str:
    """Return the dataset tour notebook the launcher offers (ACADEMY_TOUR_NOTEBOOK; by default the repository's
    notebooks/datasets_tour.ipynb, which the local backend's servers see; a course image copies it and says where)."""
    default = os.path.join(os.path.dirname(__file__), "..", "..", "notebooks", "datasets_tour.ipynb")
    return os.environ.get("ACADEMY_TOUR_NOTEBOOK", "") or os.path.normpath(default)
