"""Reading code-query's older config files: version detection and migration to schema v2.

v0 is code-query's legacy MCP config (``mainDatasetName``/``datasetName``, ``excludePatterns``,
``model``, ``version``, ``createdAt``, ``worktreeInfo``, sometimes ``mode``); v1 is its
ConfigManager schema (``dataset_name``, ``model``, ``processing{...}``, ``exclude_patterns``, and
``auto_process`` in older files). Both lived at the same path, so a real file can mix them;
``migrate_dict`` therefore handles every known legacy key whatever the detected version.
"""

from __future__ import annotations

import copy
from collections.abc import Mapping
from pathlib import Path
from typing import Any, Literal

import attrs

CURRENT_VERSION = 2

_V0_KEYS = frozenset({"mainDatasetName", "datasetName", "excludePatterns", "createdAt", "version"})
_V0_KEYS_ALL = _V0_KEYS | {"worktreeInfo"}
_V1_KEYS = frozenset({"dataset_name", "processing", "exclude_patterns", "auto_process"})
_DROPPED = ("createdAt", "version", "worktreeInfo")
# v1's README documented these names for keys the code called max_retries / (nothing).
_V1_PROCESSING_RENAMES = {"retry_attempts": "max_retries", "retry_delay": "retry_delay_s"}


def detect_version(data: Mapping[str, Any]) -> Literal[0, 1, 2]:
    """The schema version of a config mapping: 0 (legacy), 1 (ConfigManager) or 2 (current).

    An explicit ``schema_version`` wins (values other than 0 and 1 count as 2, and validation then
    reports an unsupported number). A mapping with none of the legacy keys is v2: user files and
    editor settings are partial and rarely carry ``schema_version``.
    """
    explicit = data.get("schema_version")
    if explicit is not None and not isinstance(explicit, bool):
        if explicit == 0:
            return 0
        if explicit == 1:
            return 1
        return 2
    if any(k in data for k in _V0_KEYS_ALL) or "mode" in data:
        return 0
    if any(k in data for k in _V1_KEYS):
        return 1
    return 2


def _exclude(patterns: Any) -> Any:
    # code-query wrote "node_modules/*"; "node_modules/" is the gitignore spelling of the same set.
    if not isinstance(patterns, list):
        return patterns
    return [p[:-1] if isinstance(p, str) and p.endswith("/*") else p for p in patterns]


def _mode(value: Any) -> str | None:
    # Only values with a known meaning are carried over; anything else falls back to the default
    # rather than making an old file unreadable.
    if value is True or value in ("auto", "automatic"):
        return "auto"
    if value is False or value == "manual":
        return "manual"
    return None


def migrate_dict(data: Mapping[str, Any]) -> dict[str, Any]:
    """Return a schema v2 copy of ``data`` (a v2 mapping comes back as an equal copy).

    Unknown keys are kept so that validation names them instead of silently losing them.
    """
    src = copy.deepcopy(dict(data))
    if detect_version(src) == CURRENT_VERSION and "schema_version" in src:
        return src
    out: dict[str, Any] = {"schema_version": CURRENT_VERSION}
    src.pop("schema_version", None)

    name = src.pop("dataset_name", None)
    for legacy in ("mainDatasetName", "datasetName"):
        value = src.pop(legacy, None)
        if name is None:
            name = value
    if name is not None:
        out["dataset_name"] = name
    if "model" in src:
        out["model"] = src.pop("model")

    processing = src.pop("processing", None)
    processing = dict(processing) if isinstance(processing, Mapping) else processing
    if isinstance(processing, dict):
        for old, new in _V1_PROCESSING_RENAMES.items():
            if old in processing:
                value = processing.pop(old)
                processing.setdefault(new, value)
    for legacy in ("mode", "auto_process"):
        if legacy not in src:
            continue
        mode = _mode(src.pop(legacy))
        if mode is not None and (processing is None or isinstance(processing, dict)):
            processing = processing if processing is not None else {}
            processing.setdefault("mode", mode)
    for key in _DROPPED:
        src.pop(key, None)

    excludes = src.pop("exclude_patterns", None)
    legacy_excludes = src.pop("excludePatterns", None)
    excludes = excludes if excludes is not None else legacy_excludes

    # Keep v2 sections and unknown keys in a stable, readable order.
    for key in ("processor",):
        if key in src:
            out[key] = src.pop(key)
    if processing is not None:
        out["processing"] = processing
    for key in ("worker", "queue"):
        if key in src:
            out[key] = src.pop(key)
    if excludes is not None:
        out["exclude_patterns"] = _exclude(excludes)
    out.update(src)
    return out


@attrs.frozen(kw_only=True)
class MigrationResult:
    """What ``migrate_file`` did."""

    from_version: int
    backup_path: Path | None
    changed: bool
