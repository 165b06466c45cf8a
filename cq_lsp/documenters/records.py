"""The documentation record: what a documenter returns for one file (code-query's fields).

Field shapes, stored in index.db as JSON text in the columns of the same name:

- ``functions``: ``{name: {"signature": str, "doc": str, "line": int}}`` — top-level functions.
- ``types_interfaces_classes``: ``{name: {"kind": str, "doc": str, "line": int,
  "methods": {name: {"signature", "doc", "line"}}}}``.
- ``imports``: ``{module: [imported names]}`` (an empty list imports the module itself).
- ``exports``: ``{name: kind}`` — the language's notion of public.
- ``constants``: ``{NAME: value-or-description}``.
- ``dependencies``: third-party modules or packages the file imports.
- ``other_notes``: short free-text notes (parse errors, generated file, size, ...).
"""

from __future__ import annotations

from typing import Any

import attrs

RECORD_FIELDS = (
    "overview",
    "functions",
    "exports",
    "imports",
    "types_interfaces_classes",
    "constants",
    "dependencies",
    "other_notes",
    "ddd_context",
)


@attrs.define(kw_only=True)
class FileRecord:
    path: str  # repo-relative POSIX path
    filename: str
    language: str
    overview: str = ""
    functions: dict[str, Any] = attrs.field(factory=dict)
    exports: dict[str, Any] = attrs.field(factory=dict)
    imports: dict[str, Any] = attrs.field(factory=dict)
    types_interfaces_classes: dict[str, Any] = attrs.field(factory=dict)
    constants: dict[str, Any] = attrs.field(factory=dict)
    dependencies: list[str] = attrs.field(factory=list)
    other_notes: list[str] = attrs.field(factory=list)
    ddd_context: str | None = None
    # Which documenter produced it, e.g. "static" or "command:claude"; "static (fallback: <why>)"
    # when the command documenter failed for good and the static record stands in for it.
    processor: str = "static"

    def to_dict(self) -> dict[str, Any]:
        return attrs.asdict(self, recurse=False)


def symbol_names(record: FileRecord) -> list[str]:
    """Every name the record defines: functions, types, their methods, exports and constants."""
    names: list[str] = list(record.functions)
    for tname, info in record.types_interfaces_classes.items():
        names.append(tname)
        methods = info.get("methods") if isinstance(info, dict) else None
        if isinstance(methods, dict):
            names.extend(methods)
    names.extend(record.exports)
    names.extend(record.constants)
    return names
