"""The generic extractor: definitions from a tags-style tree-sitter query, for every other language.

A language is a grammar wheel plus a query. The query is the package's own
``queries/<language>.scm`` when there is one; otherwise the wheel's ``queries/tags.scm`` (the file
GitHub's code navigation uses) followed by the package's ``queries/<language>.extra.scm`` (imports,
and definitions the wheel's file misses). Captures read:

- ``@definition.<kind>`` the whole definition, ``@name`` its name (kinds: function, method, class,
  struct, interface, enum, module, type, constant, macro; ``object`` counts as class; other kinds,
  such as fields and variables, are left out: they are not what a reader looks a file up by);
- ``@import`` a module the file imports (a string or a path; quotes and ``<>`` are stripped).

``@reference.*`` patterns of the wheel's file are disabled: they match nearly every identifier and
would only cost time. Each query is compiled once per process.
"""

from __future__ import annotations

import importlib
import re
import threading
from collections.abc import Callable
from pathlib import Path
from typing import NamedTuple

from tree_sitter import Node, Query, QueryCursor

from cq_lsp.documenters.treesitter.common import (
    SIGNATURE_LIMIT,
    Extraction,
    Source,
    add_method,
    block_overview,
    collapse,
    comment_lines,
    first_paragraph,
    get_language,
    last_row,
    string_body,
    value_text,
)

QUERY_DIR = Path(__file__).resolve().parent / "queries"

_DEFINITION_KINDS = {
    "function": "function", "method": "method", "class": "class", "object": "class",
    "struct": "struct", "interface": "interface", "enum": "enum", "module": "module",
    "type": "type", "constant": "constant", "macro": "macro",
}  # fmt: skip
_CONTAINER_KINDS = frozenset({"class", "struct", "interface", "enum", "module"})
_CLASSLIKE = frozenset({"class", "struct", "interface", "enum"})
# Nodes whose text before the name is the name's container: `M.foo`, `Foo::bar`, `self.x`.
_QUALIFIED = frozenset(
    {
        "dot_index_expression", "method_index_expression", "qualified_identifier",
        "scope_resolution", "field_expression", "member_expression", "dot",
    }
)  # fmt: skip
# A query may capture the whole import statement where its path is several nodes (Scala).
_IMPORT_KEYWORD = re.compile(r"^(?:import|using|use|open)\s+")
_QUALIFIED_NAMES = frozenset({"field_expression", "dot_index_expression"})
_BODIES = ("body", "block", "table_constructor", "declaration_list")
_KEYWORDS = frozenset({"if", "for", "while", "switch", "return", "sizeof", "do", "else"})
_ROOTS = frozenset(
    {"translation_unit", "program", "source_file", "source", "chunk", "module", "compilation_unit"}
)


class Spec(NamedTuple):
    """How one language is parsed and read."""

    display: str
    wheel: str  # the importable module of the grammar wheel
    function: str = "language"
    # Where the wheel keeps queries/, when not inside the module (tree-sitter-c-sharp).
    tags_dir: str = ""
    # False where functions local to a function are implementation details (OCaml's inner `let`).
    local_functions: bool = True
    # True where one function is written as several equations (Haskell): one symbol per name.
    merge_equations: bool = False
    # The package the import names of this language's files come from, to list dependencies:
    # returns None for the file's own or the standard library's modules.
    dependency: Callable[[str], str | None] | None = None


def _c_dependency(spec: str) -> str | None:
    return None  # `#include` names headers, not packages


def _ruby_dependency(spec: str) -> str | None:
    if spec.startswith((".", "/")):
        return None
    return spec.split("/", 1)[0]


def _php_dependency(spec: str) -> str | None:
    # `use Vendor\Package\Class`: the vendor namespace is what composer installs.
    if "\\" not in spec:
        return None
    return spec.lstrip("\\").split("\\", 1)[0]


def _dotted_dependency(spec: str) -> str | None:
    if spec.startswith((".", "/")):
        return None
    return spec.split(".", 1)[0]


SPECS: dict[str, Spec] = {
    "c": Spec("C", "tree_sitter_c", dependency=_c_dependency),
    "cpp": Spec("C++", "tree_sitter_cpp", dependency=_c_dependency),
    "csharp": Spec(
        "C#", "tree_sitter_c_sharp", tags_dir="tree_sitter_c-sharp", dependency=_dotted_dependency
    ),
    "ruby": Spec("Ruby", "tree_sitter_ruby", dependency=_ruby_dependency),
    "php": Spec("PHP", "tree_sitter_php", "language_php", dependency=_php_dependency),
    "kotlin": Spec("Kotlin", "tree_sitter_kotlin", dependency=_dotted_dependency),
    "swift": Spec("Swift", "tree_sitter_swift", dependency=_dotted_dependency),
    "scala": Spec("Scala", "tree_sitter_scala", dependency=_dotted_dependency),
    "lua": Spec("Lua", "tree_sitter_lua", dependency=_dotted_dependency),
    "shell": Spec("Shell", "tree_sitter_bash"),
    "elixir": Spec("Elixir", "tree_sitter_elixir", dependency=_dotted_dependency),
    "julia": Spec(
        "Julia", "tree_sitter_julia", dependency=_dotted_dependency, local_functions=False
    ),
    "haskell": Spec(
        "Haskell", "tree_sitter_haskell", dependency=_dotted_dependency, merge_equations=True
    ),
    "ocaml": Spec(
        "OCaml",
        "tree_sitter_ocaml",
        "language_ocaml",
        dependency=_dotted_dependency,
        local_functions=False,
    ),
}


class _Compiled(NamedTuple):
    query: Query
    import_capture: bool


_QUERIES: dict[str, _Compiled] = {}
_QUERIES_LOCK = threading.Lock()


def _wheel_tags(spec: Spec) -> str:
    module = importlib.import_module(spec.wheel)
    here = Path(module.__file__ or "").resolve().parent
    base = here.parent / spec.tags_dir if spec.tags_dir else here
    candidate = base / "queries" / "tags.scm"
    return candidate.read_text(encoding="utf-8") if candidate.is_file() else ""


def query_source(language: str) -> str:
    """The query text for ``language`` (see the module docstring for where it comes from)."""
    own = QUERY_DIR / f"{language}.scm"
    if own.is_file():
        return own.read_text(encoding="utf-8")
    text = _wheel_tags(SPECS[language])
    extra = QUERY_DIR / f"{language}.extra.scm"
    if extra.is_file():
        text += "\n" + extra.read_text(encoding="utf-8")
    return text


def compiled(language: str) -> _Compiled:
    entry = _QUERIES.get(language)
    if entry is None:
        with _QUERIES_LOCK:
            entry = _QUERIES.get(language)
            if entry is None:
                text = query_source(language)
                query = Query(get_language(language), text)
                data = text.encode("utf-8")
                for i in range(query.pattern_count):
                    pattern = data[query.start_byte_for_pattern(i) : query.end_byte_for_pattern(i)]
                    if b"@reference." in pattern:
                        query.disable_pattern(i)
                names = {query.capture_name(i) for i in range(query.capture_count)}
                entry = _Compiled(query, "import" in names)
                _QUERIES[language] = entry
    return entry


class _Def:
    __slots__ = ("container", "kind", "name", "name_node", "node")

    def __init__(self, node: Node, name_node: Node, name: str, kind: str) -> None:
        self.node = node
        self.name_node = name_node
        self.name = name
        self.kind = kind
        self.container: str | None = None


def extract_with_query(language: str, src: Source, root: Node) -> Extraction:
    ex = Extraction()
    ex.split_qualnames = False
    entry = compiled(language)
    spec = SPECS[language]
    defs: dict[tuple[int, int], _Def] = {}
    by_name: dict[int, _Def] = {}
    for _pattern, captures in QueryCursor(entry.query).matches(root):
        imports = captures.get("import")
        if imports:
            for node in imports:
                _import(ex, src, node, spec)
            continue
        names = captures.get("name")
        if not names:
            continue
        for capture, nodes in captures.items():
            if not capture.startswith("definition."):
                continue
            kind = _DEFINITION_KINDS.get(capture[len("definition.") :])
            if kind is None:
                continue
            node, name_node = nodes[0], names[0]
            name = _name_text(src, name_node)
            # A macro call the C grammar cannot expand reads `if (...) {` as a definition.
            seen = by_name.get(name_node.start_byte)
            if seen is not None:
                # A language's own file may name the kind the wheel's file calls a class.
                if seen.kind == "class" and kind in ("struct", "enum", "interface"):
                    seen.kind = kind
                continue
            if not name or name in _KEYWORDS:
                continue
            d = _Def(_own_node(name_node, node), name_node, name, kind)
            if name_node.type in _QUALIFIED_NAMES and "." in name:
                # Julia's `function Base.show(…)`: the name is `show`, Base its container.
                d.container, _, d.name = name.rpartition(".")
            by_name[name_node.start_byte] = d
            # Several names may share one node (Lua's table of functions): the first is the
            # node's own definition, the one containers are looked up by.
            defs.setdefault((node.start_byte, node.end_byte), d)
    ordered = sorted(by_name.values(), key=lambda d: d.name_node.start_byte)
    if not spec.local_functions:
        ordered = [d for d in ordered if not _inside_function(d, defs)]
    _containers(src, ordered, defs)
    ex.overview = _file_overview(src, root)
    for d in ordered:
        _record(ex, src, d, spec)
    return ex


def _name_text(src: Source, node: Node) -> str:
    text = src.text(node)
    if node.type in ("string", "string_literal", "interpreted_string_literal"):
        text = string_body(src, node)
    elif node.type == "simple_symbol":  # Ruby `alias_method :new, :old`
        text = text.lstrip(":")
    elif node.type == "operator_cast":  # C++ `operator bool() const`: the name ends at `(`
        text = " ".join(text.split("(", 1)[0].split())
    return text.strip()


def _own_node(name: Node, captured: Node) -> Node:
    """The definition a name belongs to, when a query captured its whole class or table.

    Swift's tags.scm tags a method as ``(class_declaration (class_body (function_declaration …)))``
    and Lua's a table of functions as one ``table_constructor``: the method's own node is the one
    right inside the body, which is where its comment, signature and container are read from.
    """
    node: Node | None = name
    below: Node | None = None
    while node is not None and node != captured:
        if below is not None and node.type.endswith(_BODIES):
            return below
        below, node = node, node.parent
    return captured


def _inside_function(d: _Def, defs: dict[tuple[int, int], _Def]) -> bool:
    node = d.node.parent
    while node is not None:
        outer = defs.get((node.start_byte, node.end_byte))
        if outer is not None and outer.kind in ("function", "method"):
            return True
        node = node.parent
    return False


def _containers(src: Source, ordered: list[_Def], defs: dict[tuple[int, int], _Def]) -> None:
    for d in ordered:
        if d.container is not None:
            continue
        parent = d.name_node.parent
        if (
            parent is not None
            and parent.type in _QUALIFIED
            and parent.start_byte < d.name_node.start_byte
        ):
            prefix = src.span(parent.start_byte, d.name_node.start_byte).rstrip(".:\\-> \t")
            if prefix and prefix != "self":
                d.container = prefix
                if d.kind == "function" and parent.type in (
                    "qualified_identifier",
                    "method_index_expression",
                ):
                    d.kind = "method"
                continue
        node = d.node.parent
        while node is not None:
            outer = defs.get((node.start_byte, node.end_byte))
            if outer is not None and outer is not d and outer.kind in _CONTAINER_KINDS:
                d.container = outer.name
                if d.kind == "function" and outer.kind in _CLASSLIKE:
                    d.kind = "method"
                break
            node = node.parent


def _record(ex: Extraction, src: Source, d: _Def, spec: Spec) -> None:
    if spec.merge_equations and d.container is None and d.name in ex.functions:
        return
    line = d.name_node.start_point.row + 1
    sig = _signature(src, d)
    doc = _doc(src, d.node)
    kind = d.kind
    if kind == "function" and d.container is None:
        ex.add_function(d.name, sig, doc, line)
    elif kind in _CONTAINER_KINDS and d.name not in ex.types:
        # Nested types (Ruby's Rack::Builder, a class in a C# namespace) are types of the record
        # too; their symbol keeps the container.
        ex.add_type(d.name, kind, doc, line)
        ex.type_signatures.setdefault(d.name, sig)
        if d.container is not None:
            ex.type_containers[d.name] = d.container
    elif kind in ("method", "function") and d.container is not None:
        info = ex.types.get(d.container)
        if info is None and kind == "method":
            # C++ `Foo::bar` defined away from its class: the record lists it under Foo.
            info = ex.add_type(d.container, "class", "", line, implicit=True)
        if info is None:
            ex.add_symbol(d.name, kind, line, d.container, sig, doc)
            return
        add_method(info, d.name, sig, doc, line)
        if kind == "function":  # Elixir's `def` in a module: listed with it, still a function
            ex.member_kinds[(d.container, d.name, line)] = "function"
    else:
        if kind == "constant" and d.container is None and d.name not in ex.constants:
            value = d.node.child_by_field_name("value")
            ex.constants[d.name] = value_text(src, value) if value is not None else ""
        ex.add_symbol(d.name, kind, line, d.container, sig, doc)


def _signature(src: Source, d: _Def) -> str:
    """The declaration from its start to the end of the name's line, without the body."""
    data = src.data
    node, name = d.node, d.name_node
    anchor = _anchor(node)
    # OCaml's `let` and Kotlin's modifiers sit in the statement around the captured node.
    start = anchor.start_byte if anchor.start_point.row == node.start_point.row else node.start_byte
    if name.start_point.row - node.start_point.row > 2:
        # Long attribute or decorator lists: the line of the name says more.
        start = data.rfind(b"\n", 0, name.start_byte) + 1
    end = data.find(b"\n", name.end_byte)
    if end < 0 or end > node.end_byte:
        end = node.end_byte
    body = node.child_by_field_name("body")
    if body is not None and name.end_byte <= body.start_byte < end:
        end = body.start_byte
    text = collapse(src.span(start, end), SIGNATURE_LIMIT)
    return text.rstrip("{ ").rstrip() or d.name


def _is_comment(node: Node) -> bool:
    return "comment" in node.type or node.type == "haddock"


def _anchor(node: Node) -> Node:
    """The statement a definition is written as: a comment above it documents the definition."""
    anchor = node
    # A definition wrapped in a statement, an export or a template: the comment is above that.
    while (
        anchor.parent is not None
        and anchor.parent.type not in _ROOTS
        and anchor.prev_named_sibling is None
        and anchor.parent.start_point.row >= anchor.start_point.row - 1
        and anchor.parent.parent is not None
    ):
        anchor = anchor.parent
    return anchor


def _doc(src: Source, node: Node) -> str:
    anchor = _anchor(node)
    prev = anchor.prev_sibling
    below = anchor.start_point.row
    # Elixir `@doc "..."`, Julia/Python-style docstrings placed right above the definition.
    if prev is not None and not _is_comment(prev) and below - last_row(prev) <= 1:
        text = src.text(prev)
        if text.startswith(("@doc", '"')):
            body = text[4:] if text.startswith("@doc") else text
            return first_paragraph(body.strip().strip('"').strip("'").splitlines())
        return ""
    found: list[Node] = []
    while prev is not None and _is_comment(prev) and below - last_row(prev) <= 1:
        before = prev.prev_sibling
        if (
            before is not None
            and not _is_comment(before)
            and last_row(before) == prev.start_point.row
        ):
            break  # a comment trailing code belongs to that code
        found.append(prev)
        below = prev.start_point.row
        prev = before
    lines: list[str] = []
    for comment in reversed(found):
        lines.extend(comment_lines(src.text(comment)))
    return first_paragraph(lines)


def _file_overview(src: Source, root: Node) -> str:
    """The first comment block of the file that is neither a license nor a tool directive."""
    block: list[Node] = []
    blocks: list[list[Node]] = []
    for node in root.children:
        if not _is_comment(node):
            if node.type.startswith("preproc_") and not block:
                # Header guards and includes come before the file's description in C.
                inner = [c for c in node.children if _is_comment(c)]
                if inner:
                    blocks.append(inner[:1])
                continue
            break
        if block and node.start_point.row - last_row(block[-1]) > 1:
            blocks.append(block)
            block = []
        block.append(node)
    if block:
        blocks.append(block)
    for candidate in blocks:
        text = block_overview(src, candidate)
        if text:
            return text
    return ""


def _import(ex: Extraction, src: Source, node: Node, spec: Spec) -> None:
    text = _IMPORT_KEYWORD.sub("", src.text(node).strip()).rstrip(";").strip("\"'<>`").strip()
    if not text:
        return
    ex.add_import(text)
    if spec.dependency is not None:
        package = spec.dependency(text)
        if package:
            ex.dependencies.add(package)


def has_spec(language: str) -> bool:
    return language in SPECS


def make_extractor(language: str) -> Callable[[Source, Node, frozenset[str]], Extraction]:
    def extract(src: Source, root: Node, local_modules: frozenset[str]) -> Extraction:
        ex = extract_with_query(language, src, root)
        if local_modules:
            ex.dependencies -= local_modules
        return ex

    return extract
