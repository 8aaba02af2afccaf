"""Read the environment: the one helper the settings modules use (academy.config, the worker's settings).
Nothing else in the portal reads os.environ. The notebook server's academy.exchange.settings reads it itself:
the course image installs academy/exchange/ alone, without this module."""
from __future__ import annotations

import os
from collections.abc import Mapping

PREFIX = "ACADEMY_"
TRUE = {"1", "true", "yes", "on"}


def env(key: str, default: str | None = None, *, prefix: str = PREFIX, source: Mapping[str, str] | None = None
        ) -> str | None:
    """Return the variable <prefix><key> (ACADEMY_<key> unless another prefix is named), or the default."""
    return (os.environ if source is None else source).get(f"{prefix}{key}", default)


def environment() -> dict[str, str]:
    """Return a copy of this process's whole environment, to start a child process with (and changes)."""
    return dict(os.environ)


def flag(key: str, default: bool, *, prefix: str = PREFIX, source: Mapping[str, str] | None = None) -> bool:
    """Return a yes/no variable: 1, true, yes or on (any case) is yes; unset is the default."""
    value = env(key, prefix=prefix, source=source)
    return default if value is None else value.strip().lower() in TRUE
