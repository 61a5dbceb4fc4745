"""Where facerec keeps its caches: ``$ENV_VAR`` if set, else ``$XDG_CACHE_HOME/facerec/NAME`` (``~/.cache/...``)."""
from __future__ import annotations

import os
from pathlib import Path


def user_cache_dir(name: str, env_var: str) -> Path:
    """The cache folder ``name`` (``models``, ``embeddings``), overridden by the environment variable ``env_var``."""
    if os.environ.get(env_var):
        return Path(os.environ[env_var]).expanduser()
    xdg = os.environ.get("XDG_CACHE_HOME") or str(Path.home() / ".cache")
    return Path(xdg) / "facerec" / name
