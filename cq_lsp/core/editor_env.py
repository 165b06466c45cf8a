"""How the language server hands the editor's settings and trust to a worker it starts.

The worker is a separate process that the CLI and the hooks can start too; only a worker started
by the server sees the editor's layer. It travels in the environment, as JSON, so nothing is
written to the repository.
"""

from __future__ import annotations

import json
import os
from collections.abc import Mapping
from typing import Any

SETTINGS_VAR = "CQ_LSP_EDITOR_SETTINGS"
TRUSTED_VAR = "CQ_LSP_EDITOR_TRUSTED"


def encode(settings: Mapping[str, Any] | None, trusted: bool) -> dict[str, str]:
    env = {TRUSTED_VAR: "1" if trusted else "0"}
    if settings:
        env[SETTINGS_VAR] = json.dumps(settings, separators=(",", ":"))
    return env


def decode(environ: Mapping[str, str] | None = None) -> tuple[dict[str, Any] | None, bool]:
    """The editor layer and trust passed to this process; (None, False) when there is none."""
    environ = os.environ if environ is None else environ
    trusted = environ.get(TRUSTED_VAR) == "1"
    raw = environ.get(SETTINGS_VAR)
    if not raw:
        return None, trusted
    try:
        settings = json.loads(raw)
    except ValueError:
        return None, trusted
    return (settings if isinstance(settings, dict) else None), trusted
