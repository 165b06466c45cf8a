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
- ``symbols``: every definition as its own entry, in file order —
  ``{"name", "kind", "line", "container", "signature", "doc"}`` (see ``Symbol``). The store keeps
  them as rows of their own (definition lookup, ranking, workspace/symbol, hover). A documenter
  that does not list them (an LLM answer) gets them derived from the fields above.
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


# The kinds a symbol may have. Languages map their own words onto these (a Rust trait is an
# "interface", a Go struct a "struct", a Makefile target a "target").
SYMBOL_KINDS = (
    "function", "method", "class", "struct", "interface", "enum", "type", "module", "constant",
    "variable", "macro", "field", "export", "heading", "key", "target", "table", "stage",
)  # fmt: skip


@attrs.define(kw_only=True)
class Symbol:
    """One definition: what ``cq-lsp symbol`` returns and what search ranks a file by."""

    name: str
    kind: str  # one of SYMBOL_KINDS
    line: int  # 1-based line of the definition's name
    container: str | None = None  # "Engine" for Engine.ServeHTTP, "app" for app.listen
    signature: str = ""  # the declaration's first line, cut cleanly
    doc: str = ""  # the comment block right above, or the docstring

    def to_dict(self) -> dict[str, Any]:
        return attrs.asdict(self)


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
    symbols: list[dict[str, Any]] = attrs.field(factory=list)  # Symbol.to_dict() each

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


def derive_symbols(record: FileRecord) -> list[dict[str, Any]]:
    """Symbols from the record's structured fields, for records that do not list their own."""
    if record.symbols:
        return record.symbols
    out: list[Symbol] = []

    def line_of(info: Any) -> int:
        line = info.get("line") if isinstance(info, dict) else None
        return line if isinstance(line, int) and line > 0 else 1

    def text(info: Any, key: str) -> str:
        value = info.get(key) if isinstance(info, dict) else None
        return value if isinstance(value, str) else ""

    for name, info in record.functions.items():
        out.append(
            Symbol(
                name=name,
                kind="function",
                line=line_of(info),
                signature=text(info, "signature"),
                doc=text(info, "doc"),
            )
        )
    for tname, info in record.types_interfaces_classes.items():
        kind = text(info, "kind") or "class"
        out.append(
            Symbol(
                name=tname,
                kind=kind if kind in SYMBOL_KINDS else "type",
                line=line_of(info),
                doc=text(info, "doc"),
            )
        )
        methods = info.get("methods") if isinstance(info, dict) else None
        if isinstance(methods, dict):
            for mname, minfo in methods.items():
                out.append(
                    Symbol(
                        name=mname,
                        kind="method",
                        line=line_of(minfo),
                        container=tname,
                        signature=text(minfo, "signature"),
                        doc=text(minfo, "doc"),
                    )
                )
    seen = {s.name for s in out}
    for cname in record.constants:
        if cname not in seen:
            out.append(Symbol(name=cname, kind="constant", line=1))
    return [s.to_dict() for s in out]
