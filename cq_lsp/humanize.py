"""Values and quantities for people: the status message, the CLI and every error message say
them the same way."""

from __future__ import annotations

import json
from typing import Any


def show_value(value: Any, limit: int = 60) -> str:
    """A value as an error message quotes it: as JSON (what the user wrote), cut to ``limit``."""
    try:
        text = json.dumps(value, ensure_ascii=False)
    except (TypeError, ValueError):
        text = repr(value)
    return text if len(text) <= limit else text[: limit - 3] + "..."


def due_text(seconds: float | None) -> str:
    """When a delayed job is due, for people: ``40 s``, ``4 min``, ``2 h 5 min``."""
    s = int(seconds or 0)
    if s < 60:
        return f"{s} s"
    if s < 3600:
        return f"{(s + 59) // 60} min"
    return f"{s // 3600} h {s % 3600 // 60} min"
