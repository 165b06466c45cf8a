"""Python extraction: module docstring, top-level defs and classes, imports, ``__all__``."""

from __future__ import annotations

import sys
from collections.abc import Iterator

from tree_sitter import Node

from cq_lsp.documenters.treesitter.common import (
    Extraction,
    Source,
    add_method,
    comments_doc,
    file_comment_overview,
    first_named,
    first_paragraph,
    is_upper_name,
    leading_comments,
    line_of,
    signature,
    string_body,
    value_text,
)

_COMMENT = frozenset({"comment"})
_DEFINITIONS = frozenset({"function_definition", "class_definition", "decorated_definition"})
# Definitions guarded by `if`/`try`/`with` at module level are still module-level definitions.
_COMPOUND = frozenset({"if_statement", "try_statement", "with_statement"})
_CLAUSES = frozenset(
    {"elif_clause", "else_clause", "except_clause", "except_group_clause", "finally_clause"}
)
_MAX_DEPTH = 3
# Top-level nodes a comment directly above documents (rather than the whole file).
_DOCUMENTED = _DEFINITIONS | {"expression_statement", "type_alias_statement"}
_STDLIB: frozenset[str] = frozenset(sys.stdlib_module_names)


class _State:
    __slots__ = ("all_names", "defined", "ex", "imported", "local_modules", "reexported", "src")

    def __init__(self, src: Source, ex: Extraction, local_modules: frozenset[str]) -> None:
        self.src = src
        self.ex = ex
        self.local_modules = local_modules
        self.all_names: list[str] | None = None
        # Public-candidate names in definition order -> export kind.
        self.defined: dict[str, str] = {}
        self.imported: set[str] = set()
        # `from .x import y as y` / `import y as y`: the typing convention for a re-export.
        self.reexported: list[str] = []


def extract(src: Source, root: Node, local_modules: frozenset[str]) -> Extraction:
    ex = Extraction()
    state = _State(src, ex, local_modules)
    children = root.children
    ex.overview = _module_docstring(src, children) or file_comment_overview(
        src, children, _COMMENT, _DOCUMENTED
    )
    _walk(state, children, 0)
    _exports(state)
    return ex


def _module_docstring(src: Source, children: list[Node]) -> str:
    for node in children:
        if node.type == "comment":
            continue
        return _string_statement_doc(src, node)
    return ""


def _string_statement_doc(src: Source, node: Node | None) -> str:
    if node is None or node.type != "expression_statement" or node.named_child_count != 1:
        return ""
    string = first_named(node)
    if string is None or string.type != "string":
        return ""
    return first_paragraph(string_body(src, string).splitlines())


def _body_docstring(src: Source, body: Node | None) -> str:
    if body is None:
        return ""
    for i in range(body.named_child_count):
        node = body.named_child(i)
        if node is None or node.type != "comment":
            return _string_statement_doc(src, node)
    return ""


def _walk(state: _State, children: list[Node], depth: int) -> None:
    src = state.src
    for idx, node in enumerate(children):
        kind = node.type
        if kind in _DEFINITIONS:
            _definition(state, node, children, idx)
        elif kind == "expression_statement":
            _assignment(state, first_named(node))
        elif kind == "import_statement":
            _import(state, node)
        elif kind in ("import_from_statement", "future_import_statement"):
            _import_from(state, node)
        elif kind == "type_alias_statement":
            name = src.field_text(node, "left")
            state.ex.add_type(name, "type alias", "", line_of(node))
            state.defined.setdefault(name, "type alias")
        elif kind in _COMPOUND and depth < _MAX_DEPTH and not _is_main_guard(src, node):
            for block in _blocks(node):
                _walk(state, block.children, depth + 1)


def _is_main_guard(src: Source, node: Node) -> bool:
    return node.type == "if_statement" and "__name__" in src.field_text(node, "condition")


def _blocks(node: Node) -> Iterator[Node]:
    for child in node.children:
        if child.type == "block":
            yield child
        elif child.type in _CLAUSES:
            yield from _blocks(child)


def _unwrap(node: Node) -> Node | None:
    if node.type == "decorated_definition":
        return node.child_by_field_name("definition")
    return node


def _definition(state: _State, node: Node, siblings: list[Node], idx: int) -> None:
    definition = _unwrap(node)
    if definition is None:
        return
    src, ex = state.src, state.ex
    if definition.type == "function_definition":
        name, sig, doc, line = _function(src, definition, siblings, idx)
        ex.add_function(name, sig, doc, line)
        state.defined.setdefault(name, "function")
        _nested(src, ex, definition, name, 0)
    elif definition.type == "class_definition":
        name = _class(src, ex, definition, siblings, idx, "")
        state.defined.setdefault(name, "class")


def _doc(src: Source, body: Node | None, siblings: list[Node], idx: int) -> str:
    # The docstring wins; the `#` comments above are only read when there is none.
    return _body_docstring(src, body) or comments_doc(
        src, leading_comments(siblings, idx, _COMMENT)
    )


def _function(src: Source, node: Node, siblings: list[Node], idx: int) -> tuple[str, str, str, int]:
    name = src.field_text(node, "name")
    # End at the return annotation or parameters: a comment may sit between them and the body.
    end_node = node.child_by_field_name("return_type") or node.child_by_field_name("parameters")
    end = end_node.end_byte if end_node is not None else node.end_byte
    doc = _doc(src, node.child_by_field_name("body"), siblings, idx)
    return name, signature(src, node.start_byte, end), doc, line_of(node)


def _class(
    src: Source, ex: Extraction, node: Node, siblings: list[Node], idx: int, outer: str
) -> str:
    name = src.field_text(node, "name")
    qualname = f"{outer}.{name}" if outer else name
    body = node.child_by_field_name("body")
    doc = _doc(src, body, siblings, idx)
    info = ex.add_type(
        qualname, _class_kind(src.field_text(node, "superclasses")), doc, line_of(node)
    )
    if body is None:
        return name
    members = body.children
    for idx, member in enumerate(members):
        if member.type not in _DEFINITIONS:
            continue
        definition = _unwrap(member)
        if definition is None:
            continue
        if definition.type == "function_definition":
            parts = _function(src, definition, members, idx)
            add_method(info, *parts)
            _nested(src, ex, definition, parts[0], 0)
        elif definition.type == "class_definition" and not outer:
            _class(src, ex, definition, members, idx, qualname)
    return name


def _nested(src: Source, ex: Extraction, function: Node, container: str, depth: int) -> None:
    """Functions and classes defined in a function's body (closures, local helper classes).

    Only the body's own statements are read, not every node, so the cost stays with the number of
    statements.
    """
    body = function.child_by_field_name("body")
    if body is None or depth >= _MAX_DEPTH:
        return
    data, start, end = src.data, body.start_byte, body.end_byte
    # Most bodies define nothing: one search of the bytes is cheaper than listing the statements.
    if data.find(b"def ", start, end) < 0 and data.find(b"class ", start, end) < 0:
        return
    statements = body.children
    for idx, node in enumerate(statements):
        if node.type not in _DEFINITIONS:
            continue
        definition = _unwrap(node)
        if definition is None:
            continue
        if definition.type == "function_definition":
            name, sig, doc, line = _function(src, definition, statements, idx)
            ex.add_symbol(name, "function", line, container, sig, doc)
            _nested(src, ex, definition, name, depth + 1)
        elif definition.type == "class_definition":
            name = src.field_text(definition, "name")
            doc = _doc(src, definition.child_by_field_name("body"), statements, idx)
            sig = signature(src, definition.start_byte, _header_end(definition))
            ex.add_symbol(name, "class", line_of(definition), container, sig, doc)


def _header_end(node: Node) -> int:
    body = node.child_by_field_name("body")
    return body.start_byte if body is not None else node.end_byte


def _class_kind(bases: str) -> str:
    if "Enum" in bases or "Flag" in bases:
        return "enum"
    if "Protocol" in bases:
        return "protocol"
    return "class"


def _assignment(state: _State, node: Node | None) -> None:
    if node is None:
        return
    src = state.src
    left = node.child_by_field_name("left")
    if left is None:
        return
    right = node.child_by_field_name("right")
    if node.type == "augmented_assignment":
        if src.text(left) == "__all__" and right is not None:
            state.all_names = (state.all_names or []) + _string_list(src, right)
        return
    if node.type != "assignment":
        return
    if left.type == "identifier":
        _simple_assignment(state, node, src.text(left), right)
    elif left.type in ("pattern_list", "tuple_pattern"):
        for target in left.named_children:
            if target.type == "identifier":
                name = src.text(target)
                state.defined.setdefault(name, "constant" if is_upper_name(name) else "variable")


def _simple_assignment(state: _State, node: Node, name: str, right: Node | None) -> None:
    src, ex = state.src, state.ex
    if name == "__all__":
        if right is not None:
            state.all_names = _string_list(src, right)
        return
    annotation = src.field_text(node, "type")
    if annotation == "TypeAlias" or annotation.endswith(".TypeAlias"):
        ex.add_type(name, "type alias", "", line_of(node))
        state.defined.setdefault(name, "type alias")
        return
    if is_upper_name(name):
        if right is not None:
            ex.add_constant(name, value_text(src, right), line_of(node))
        state.defined.setdefault(name, "constant")
    else:
        state.defined.setdefault(name, "variable")


def _string_list(src: Source, node: Node) -> list[str]:
    if node.type not in ("list", "tuple"):
        return []
    return [string_body(src, item).strip() for item in node.named_children if item.type == "string"]


def _import(state: _State, node: Node) -> None:
    for target in node.children_by_field_name("name"):
        module_node = (
            target.child_by_field_name("name") if target.type == "aliased_import" else target
        )
        if module_node is None:
            continue
        module = state.src.text(module_node)
        state.ex.add_import(module)
        alias = target.child_by_field_name("alias")
        state.imported.add(state.src.text(alias) if alias is not None else module.split(".", 1)[0])
        _dependency(state, module)


def _import_from(state: _State, node: Node) -> None:
    src = state.src
    if node.type == "future_import_statement":
        module = "__future__"
    else:
        module_node = node.child_by_field_name("module_name")
        if module_node is None:
            return
        module = src.text(module_node)
    names: list[str] = []
    for target in node.children_by_field_name("name"):
        name_node = (
            target.child_by_field_name("name") if target.type == "aliased_import" else target
        )
        if name_node is not None:
            names.append(src.text(name_node))
        alias = target.child_by_field_name("alias")
        state.imported.add(src.text(alias if alias is not None else target))
        if alias is not None and name_node is not None and src.text(alias) == src.text(name_node):
            state.reexported.append(src.text(alias))
    if any(child.type == "wildcard_import" for child in node.children):
        names.append("*")
    state.ex.add_import(module, names)
    _dependency(state, module)


def _dependency(state: _State, module: str) -> None:
    if module.startswith("."):
        return
    top = module.split(".", 1)[0]
    if top and top not in _STDLIB and top not in state.local_modules:
        state.ex.dependencies.add(top)


def _exports(state: _State) -> None:
    ex = state.ex
    if state.all_names is not None:
        for name in state.all_names:
            kind = state.defined.get(name) or ("import" if name in state.imported else "name")
            ex.add_export(name, kind)
        return
    for name, kind in state.defined.items():
        if not name.startswith("_"):
            ex.add_export(name, kind)
    for name in state.reexported:
        ex.add_export(name, "reexport")
