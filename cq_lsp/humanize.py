"""Quantities for people: the status message and the CLI say them the same way."""

from __future__ import annotations


def due_text(seconds: float | None) -> str:
    """When a delayed job is due, for people: ``40 s``, ``4 min``, ``2 h 5 min``."""
    s = int(seconds or 0)
    if s < 60:
        return f"{s} s"
    if s < 3600:
        return f"{(s + 59) // 60} min"
    return f"{s // 3600} h {s % 3600 // 60} min"
