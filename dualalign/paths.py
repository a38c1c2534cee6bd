"""Where dualalign keeps prepared models and other caches."""

from __future__ import annotations

import os
from pathlib import Path

CACHE_ENV = "DUALALIGN_CACHE"


def cache_dir() -> Path:
    """`$DUALALIGN_CACHE`, else `$XDG_CACHE_HOME/dualalign`, else `~/.cache/dualalign`."""
    if os.environ.get(CACHE_ENV):
        return Path(os.environ[CACHE_ENV]).expanduser()
    base = os.environ.get("XDG_CACHE_HOME") or Path.home() / ".cache"
    return Path(base).expanduser() / "dualalign"
