"""Shared pieces of tree-sitter extraction: parser cache, source slicing, comment cleaning."""

from __future__ import annotations

import importlib
import operator
import re
import threading
from typing import Any

from tree_sitter import Language, Node, Parser, Tree

DOC_LIMIT = 300
SIGNATURE_LIMIT = 200
VALUE_LIMIT = 80

# name -> (wheel module, function returning the language capsule)
_LOADERS: dict[str, tuple[str, str]] = {
    "python": ("tree_sitter_python", "language"),
    "javascript": ("tree_sitter_javascript", "language"),
    "typescript": ("tree_sitter_typescript", "language_typescript"),
    "tsx": ("tree_sitter_typescript", "language_tsx"),
    "go": ("tree_sitter_go", "language"),
    "rust": ("tree_sitter_rust", "language"),
    "java": ("tree_sitter_java", "language"),
    # Read through the generic tags-query extractor (treesitter/tags.py).
    "c": ("tree_sitter_c", "language"),
    "cpp": ("tree_sitter_cpp", "language"),
    "csharp": ("tree_sitter_c_sharp", "language"),
    "ruby": ("tree_sitter_ruby", "language"),
    "php": ("tree_sitter_php", "language_php"),
    "kotlin": ("tree_sitter_kotlin", "language"),
    "swift": ("tree_sitter_swift", "language"),
    "scala": ("tree_sitter_scala", "language"),
    "lua": ("tree_sitter_lua", "language"),
    "shell": ("tree_sitter_bash", "language"),
    "elixir": ("tree_sitter_elixir", "language"),
    "julia": ("tree_sitter_julia", "language"),
    "haskell": ("tree_sitter_haskell", "language"),
    "ocaml": ("tree_sitter_ocaml", "language_ocaml"),
}

# Language objects are immutable and safe to share; Parsers are not, so each thread gets its own.
_LANGUAGES: dict[str, Language] = {}
_LANGUAGES_LOCK = threading.Lock()
_THREAD_STATE = threading.local()


def get_language(name: str) -> Language:
    lang = _LANGUAGES.get(name)
    if lang is None:
        with _LANGUAGES_LOCK:
            lang = _LANGUAGES.get(name)
            if lang is None:
                module_name, func_name = _LOADERS[name]
                module = importlib.import_module(module_name)
                lang = Language(getattr(module, func_name)())
                _LANGUAGES[name] = lang
    return lang


def parse(language: str, data: bytes) -> Tree:
    """Parse ``data`` with this thread's parser for ``language``."""
    parsers: dict[str, Parser] | None = getattr(_THREAD_STATE, "parsers", None)
    if parsers is None:
        parsers = {}
        _THREAD_STATE.parsers = parsers
    parser = parsers.get(language)
    if parser is None:
        parser = Parser(get_language(language))
        parsers[language] = parser
    return parser.parse(data)


class Source:
    """The encoded file; node text is sliced from it so nothing is re-encoded per node."""

    __slots__ = ("data",)

    def __init__(self, data: bytes) -> None:
        self.data = data

    def text(self, node: Node) -> str:
        return self.data[node.start_byte : node.end_byte].decode("utf-8", "replace")

    def span(self, start: int, end: int) -> str:
        return self.data[start:end].decode("utf-8", "replace")

    def field_text(self, node: Node, field: str) -> str:
        child = node.child_by_field_name(field)
        return "" if child is None else self.text(child)


class Extraction:
    """What a language extractor found; the documenter turns it into a FileRecord."""

    __slots__ = (
        "constant_lines",
        "constants",
        "dependencies",
        "exports",
        "extra_symbols",
        "functions",
        "implicit_types",
        "imports",
        "member_kinds",
        "notes",
        "overview",
        "package",
        "split_qualnames",
        "type_containers",
        "type_signatures",
        "types",
    )

    def __init__(self) -> None:
        self.overview = ""
        self.package = ""
        self.functions: dict[str, dict[str, Any]] = {}
        self.types: dict[str, dict[str, Any]] = {}
        self.imports: dict[str, list[str]] = {}
        self.exports: dict[str, str] = {}
        self.constants: dict[str, str] = {}
        self.dependencies: set[str] = set()
        self.notes: list[str] = []
        self.constant_lines: dict[str, int] = {}
        # Types only seen through their methods (a Go receiver, a Rust impl of a foreign type):
        # they hold methods in the record but are no definition of this file.
        self.implicit_types: set[str] = set()
        self.type_signatures: dict[str, str] = {}
        # The container of a nested type kept by its own name (Ruby's Builder in Rack).
        self.type_containers: dict[str, str] = {}
        # Members listed with a type that are not methods: (type, name, line) -> kind.
        self.member_kinds: dict[tuple[str, str, int], str] = {}
        # Python and Java store nested types as "Outer.Inner"; elsewhere a dot is part of the name
        # (Elixir's MyApp.Router, a C# namespace).
        self.split_qualnames = True
        # Definitions outside functions/types/constants (a CommonJS `app.listen = function`, a
        # C macro, a Markdown heading): Symbol.to_dict() each.
        self.extra_symbols: list[dict[str, Any]] = []

    def add_symbol(
        self,
        name: str,
        kind: str,
        line: int,
        container: str | None = None,
        signature: str = "",
        doc: str = "",
    ) -> None:
        if name:
            self.extra_symbols.append(
                {
                    "name": name,
                    "kind": kind,
                    "line": line,
                    "container": container,
                    "signature": signature,
                    "doc": doc,
                }
            )

    def add_constant(self, name: str, value: str, line: int) -> None:
        if name and name not in self.constants:
            self.constants[name] = value
            self.constant_lines[name] = line

    def add_import(self, module: str, names: list[str] | tuple[str, ...] = ()) -> None:
        existing = self.imports.setdefault(module, [])
        for name in names:
            if name not in existing:
                existing.append(name)

    def add_function(self, name: str, signature: str, doc: str, line: int) -> None:
        # Conditional or overloaded definitions repeat a name: the first one is the record's, the
        # others are still symbols of their own (a lookup must find each line).
        if name and name not in self.functions:
            self.functions[name] = {"signature": signature, "doc": doc, "line": line}
        elif name and self.functions[name]["line"] != line:
            self.add_symbol(name, "function", line, None, signature, doc)

    def add_type(
        self, name: str, kind: str, doc: str, line: int, implicit: bool = False
    ) -> dict[str, Any]:
        info = self.types.get(name)
        if info is None:
            info = {"kind": kind, "doc": doc, "line": line, "methods": {}}
            self.types[name] = info
            if implicit:
                self.implicit_types.add(name)
        return info

    def add_export(self, name: str, kind: str) -> None:
        if name and name not in self.exports:
            self.exports[name] = kind


def add_method(info: dict[str, Any], name: str, signature: str, doc: str, line: int) -> None:
    methods: dict[str, Any] = info["methods"]
    if name and name not in methods:
        methods[name] = {"signature": signature, "doc": doc, "line": line}
    elif name and methods[name]["line"] != line:
        # The same method in two impl blocks or overloads: symbols_of lists it, the record not.
        info.setdefault(MORE_METHODS, []).append(
            {"name": name, "signature": signature, "doc": doc, "line": line}
        )


MORE_METHODS = "_more_methods"
# Symbols found inside a type's methods (JS nested functions), read and removed by symbols_of.
NESTED_SYMBOLS = "_nested_symbols"


def first_named(node: Node) -> Node | None:
    # Node.named_child raises IndexError (rather than returning None) when out of range.
    return node.named_child(0) if node.named_child_count else None


def line_of(node: Node) -> int:
    return node.start_point.row + 1


def last_row(node: Node) -> int:
    # Some grammars (Rust line_comment) include the newline, which ends the node at column 0 of
    # the next row; that row does not belong to the node for adjacency purposes.
    end = node.end_point
    if end.column == 0 and end.row > node.start_point.row:
        return end.row - 1
    return end.row


def collapse(text: str, limit: int) -> str:
    """Collapse whitespace and truncate to ``limit`` characters."""
    out = " ".join(text.split())
    if len(out) > limit:
        out = out[: limit - 3].rstrip() + "..."
    return out


def signature(src: Source, start: int, end: int) -> str:
    return collapse(src.span(start, end), SIGNATURE_LIMIT)


def value_text(src: Source, node: Node | None) -> str:
    return "" if node is None else collapse(src.text(node), VALUE_LIMIT)


def first_paragraph(lines: list[str], limit: int = DOC_LIMIT) -> str:
    """Join the first paragraph of already de-marked lines; tag lines (``@param``) end it too."""
    para: list[str] = []
    for raw in lines:
        line = raw.strip()
        if not line or line.startswith("@"):
            if para:
                break
            continue
        para.append(line)
    return whole_sentences(" ".join(para), limit)


_SENTENCE_END = re.compile(r"[.!?:;](?=\s)")


def whole_sentences(text: str, limit: int) -> str:
    """Collapse whitespace; past ``limit``, keep the whole sentences that fit.

    A first sentence longer than the limit is cut at a word and ends with an ellipsis, so a reader
    always sees that the text goes on.
    """
    out = " ".join(text.split())
    if len(out) <= limit:
        return out
    ends = [m.end() for m in _SENTENCE_END.finditer(out, 0, limit)]
    if ends:
        return out[: ends[-1]].rstrip(":;") + ("" if out[ends[-1] - 1] in ".!?" else ".")
    cut = out.rfind(" ", 0, limit - 1)
    return out[: cut if cut > 0 else limit - 1].rstrip(",;:") + "…"


def comment_lines(text: str) -> list[str]:
    """Strip comment markers (``#``, ``//``, ``///``, ``//!``, ``/* */``, ``/** */``)."""
    if text.startswith("/*"):
        body = text[2:-2] if text.endswith("*/") and len(text) >= 4 else text[2:]
        body = body.lstrip("*!")
        out = []
        for line in body.splitlines():
            stripped = line.strip()
            if stripped.startswith("*"):
                stripped = stripped[1:]
            out.append(stripped)
        return out
    if text.startswith("//"):
        rest = text[2:]
        if rest[:1] in ("/", "!"):
            rest = rest[1:]
        return [rest.strip()]
    if text.startswith("#"):
        return [text.lstrip("#").strip()]
    if text.startswith(("(*", "{-")):  # OCaml `(** … *)`, Haskell `{-| … -}`
        body = text[2:-2] if text.endswith(("*)", "-}")) and len(text) >= 4 else text[2:]
        return [line.strip().lstrip("*").strip() for line in body.lstrip("*|!").splitlines()]
    if text.startswith("--"):  # Lua `---`, Haskell `-- |`, SQL
        rest = text.lstrip("-").strip()
        if rest.startswith("[[") or rest.startswith("[=["):  # Lua block comment
            rest = rest.strip("[]=")
        return [line.strip() for line in rest.removeprefix("|").splitlines()]
    return [text.strip()]


def comments_doc(src: Source, nodes: list[Node]) -> str:
    lines: list[str] = []
    for node in nodes:
        lines.extend(comment_lines(src.text(node)))
    return first_paragraph(lines)


def leading_comments(
    siblings: list[Node],
    idx: int,
    comment_types: frozenset[str],
    skip_types: frozenset[str] = frozenset(),
) -> list[Node]:
    """The comment nodes directly above ``siblings[idx]`` (no blank line in between).

    ``skip_types`` (decorators, attributes) may sit between the comment and the declaration.
    A comment that trails code on the same line belongs to that code, not to what follows.
    """
    below_row = siblings[idx].start_point.row
    found: list[Node] = []
    j = idx - 1
    while j >= 0:
        node = siblings[j]
        kind = node.type
        if kind in skip_types:
            below_row = node.start_point.row
            j -= 1
            continue
        if kind not in comment_types or below_row - last_row(node) > 1:
            break
        start_row = node.start_point.row
        if j > 0:
            prev = siblings[j - 1]
            if prev.type not in comment_types and last_row(prev) == start_row:
                break
        found.append(node)
        below_row = start_row
        j -= 1
    found.reverse()
    return found


_BOILERPLATE_LINE = re.compile(
    r"^(?:!|-\*-|vim?:|eslint|jshint|global\s|@ts-|tslint|prettier|go:build|\+build|"
    r"spdx-license|pylint:|type:\s*ignore|noqa|flake8|@flow|@jsx|#?\s*frozen_string|"
    r".*(?:\bdo not edit|\bcode generated|@generated|\bauto-?generated)\b)",
    re.IGNORECASE,
)
_LICENSE = re.compile(
    r"copyright|licen[sc]ed under|all rights reserved|permission is hereby granted|"
    r"spdx-license|terms of the .{0,20}license",
    re.IGNORECASE,
)


def file_comment_overview(
    src: Source,
    children: list[Node],
    comment_types: frozenset[str],
    attached_to: frozenset[str],
) -> str:
    """Overview from the comment blocks that open the file.

    Blocks are separated by blank lines. License headers and tool directives are skipped. A block
    directly above a node of a type in ``attached_to`` (a function, a class) documents that node,
    not the file; directly above an import or ``package`` it still describes the file.
    """
    blocks: list[list[Node]] = []
    first_code: Node | None = None
    for node in children:
        if node.type not in comment_types:
            first_code = node
            break
        if blocks and node.start_point.row - last_row(blocks[-1][-1]) <= 1:
            blocks[-1].append(node)
        else:
            blocks.append([node])
    if (
        blocks
        and first_code is not None
        and first_code.type in attached_to
        and first_code.start_point.row - last_row(blocks[-1][-1]) <= 1
    ):
        blocks.pop()
    for block in blocks:
        text = block_overview(src, block)
        if text:
            return text
    return ""


def block_overview(src: Source, block: list[Node]) -> str:
    lines: list[str] = []
    for node in block:
        lines.extend(comment_lines(src.text(node)))
    lines = [line for line in lines if not _BOILERPLATE_LINE.match(line.strip())]
    if _LICENSE.search(" ".join(lines)):
        return ""
    return first_paragraph(lines)


def string_body(src: Source, node: Node) -> str:
    """The text inside a string literal node's delimiters (no unescaping)."""
    count = node.child_count
    if count >= 2:
        start = node.child(0)
        end = node.child(count - 1)
        if start is not None and end is not None:
            return src.span(start.end_byte, end.start_byte)
    text = src.text(node)
    return text.strip("\"'`")


def is_upper_name(name: str) -> bool:
    stripped = name.lstrip("_")
    return bool(stripped) and stripped[0].isalpha() and stripped.upper() == stripped


# The record's words for kinds mapped onto SYMBOL_KINDS; anything else is a "type".
_KIND_MAP = {
    "class": "class", "abstract class": "class", "record": "class", "object": "class",
    "struct": "struct", "union": "struct",
    "interface": "interface", "trait": "interface", "protocol": "interface",
    "annotation": "interface",
    "enum": "enum",
    "type": "type", "type alias": "type", "typedef": "type",
    "module": "module", "namespace": "module", "package": "module",
    "function": "function", "method": "method", "macro": "macro", "constant": "constant",
}  # fmt: skip


def symbol_kind(kind: str) -> str:
    return _KIND_MAP.get(kind, "type")


def symbols_of(ex: Extraction) -> list[dict[str, Any]]:
    """Every definition the extraction found, as Symbol dicts in file order."""
    # Built inline (no helper call per symbol): this runs for every file the worker documents.
    out: list[dict[str, Any]] = [
        {
            "name": name,
            "kind": "function",
            "line": info["line"],
            "container": None,
            "signature": info["signature"],
            "doc": info["doc"],
        }
        for name, info in ex.functions.items()
    ]
    member_kinds = ex.member_kinds
    for qualname, info in ex.types.items():
        # Nested types are stored as "Outer.Inner" (Python, Java).
        if ex.split_qualnames and "." in qualname and _DOTTED.match(qualname):
            outer, _, name = qualname.rpartition(".")
        else:
            outer, name = ex.type_containers.get(qualname, ""), qualname
        if qualname not in ex.implicit_types:
            out.append(
                {
                    "name": name,
                    "kind": symbol_kind(info["kind"]),
                    "line": info["line"],
                    "container": outer or None,
                    "signature": ex.type_signatures.get(qualname) or f"{info['kind']} {name}",
                    "doc": info["doc"],
                }
            )
        for mname, minfo in info["methods"].items():
            mline = minfo["line"]
            out.append(
                {
                    "name": mname,
                    "kind": member_kinds.get((name, mname, mline), "method")
                    if member_kinds
                    else "method",
                    "line": mline,
                    "container": name,
                    "signature": minfo["signature"],
                    "doc": minfo["doc"],
                }
            )
        for minfo in info.pop(MORE_METHODS, ()):
            out.append(
                {
                    "name": minfo["name"],
                    "kind": member_kinds.get((name, minfo["name"], minfo["line"]), "method"),
                    "line": minfo["line"],
                    "container": name,
                    "signature": minfo["signature"],
                    "doc": minfo["doc"],
                }
            )
        out.extend(info.pop(NESTED_SYMBOLS, ()))
    for name, value in ex.constants.items():
        line = ex.constant_lines.get(name, 0)
        if line:
            out.append(
                {
                    "name": name,
                    "kind": "constant",
                    "line": line,
                    "container": None,
                    "signature": collapse(f"{name} = {value}", SIGNATURE_LIMIT),
                    "doc": "",
                }
            )
    out.extend(ex.extra_symbols)
    out.sort(key=_LINE)
    return out


_LINE = operator.itemgetter("line")
_DOTTED = re.compile(r"^[A-Za-z_$][\w$]*(?:\.[A-Za-z_$][\w$]*)+$")
