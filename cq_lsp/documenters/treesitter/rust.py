"""Rust extraction: `//!` docs, fns, structs/enums/traits with impl methods, `use`, consts."""

from __future__ import annotations

from typing import Any

from tree_sitter import Node

from cq_lsp.documenters.treesitter.common import (
    Extraction,
    Source,
    add_method,
    comment_lines,
    comments_doc,
    file_comment_overview,
    first_named,
    first_paragraph,
    leading_comments,
    line_of,
    signature,
    value_text,
)

_COMMENT = frozenset({"line_comment", "block_comment"})
_ATTRIBUTE = frozenset({"attribute_item"})
_TYPES = {
    "struct_item": "struct",
    "enum_item": "enum",
    "union_item": "union",
    "trait_item": "trait",
    "type_item": "type alias",
}
# Top-level nodes a comment directly above documents (rather than the whole file).
_DOCUMENTED = frozenset(
    {"function_item", "impl_item", "const_item", "static_item", "mod_item", "macro_definition"}
    | set(_TYPES)
    | _ATTRIBUTE
)
_FUNCTIONS = frozenset({"function_item", "function_signature_item"})
_NOT_CRATES = frozenset({"std", "core", "alloc", "crate", "self", "super", "proc_macro", "test"})


def extract(src: Source, root: Node, local_modules: frozenset[str]) -> Extraction:
    ex = Extraction()
    children = root.children
    ex.overview = _inner_docs(src, children) or file_comment_overview(
        src, children, _COMMENT, _DOCUMENTED
    )
    impls: list[Node] = []
    use_roots: list[str] = []
    local = set(local_modules)
    for idx, node in enumerate(children):
        kind = node.type
        if kind in _COMMENT or kind in _ATTRIBUTE:
            continue
        public = _is_pub(src, node)
        if kind == "function_item":
            name, sig, doc, line = _function(src, node, _doc(src, children, idx))
            ex.add_function(name, sig, doc, line)
            _export(ex, public, name, "function")
        elif kind in _TYPES:
            _type(src, ex, node, _TYPES[kind], _doc(src, children, idx))
            _export(ex, public, src.field_text(node, "name"), _TYPES[kind])
        elif kind == "impl_item":
            impls.append(node)
        elif kind in ("const_item", "static_item"):
            name = src.field_text(node, "name")
            ex.add_constant(name, value_text(src, node.child_by_field_name("value")), line_of(node))
            _export(ex, public, name, "constant" if kind == "const_item" else "static")
        elif kind == "use_declaration":
            argument = node.child_by_field_name("argument")
            if argument is not None:
                use_roots.extend(_use(src, ex, argument, "", public))
        elif kind == "extern_crate_declaration":
            name = src.field_text(node, "name")
            ex.add_import(name)
            use_roots.append(name)
        elif kind == "mod_item":
            name = src.field_text(node, "name")
            local.add(name)
            _export(ex, public, name, "module")
            _module(src, ex, node, name, _doc(src, children, idx))
        elif kind == "macro_definition":
            local.add(src.field_text(node, "name"))
    for impl in impls:
        _impl(src, ex, impl)
    _dependencies(ex, use_roots, local)
    return ex


def _module(src: Source, ex: Extraction, node: Node, name: str, doc: str) -> None:
    """``mod x;`` and ``mod tests { … }``: the module, and the functions written inline in it."""
    name_node = node.child_by_field_name("name")
    line = line_of(name_node if name_node is not None else node)
    body = node.child_by_field_name("body")
    end = body.start_byte if body is not None else node.end_byte
    ex.add_symbol(name, "module", line, None, signature(src, node.start_byte, end), doc)
    if body is None:
        return
    items = body.children
    for idx, item in enumerate(items):
        if item.type == "function_item":
            fname, sig, fdoc, fline = _function(src, item, _doc(src, items, idx))
            ex.add_symbol(fname, "function", fline, name, sig, fdoc)


def _inner_docs(src: Source, children: list[Node]) -> str:
    lines: list[str] = []
    for node in children:
        if node.type not in _COMMENT:
            break
        if node.child_by_field_name("inner") is not None:
            lines.extend(comment_lines(src.text(node)))
        elif lines:
            break
    return first_paragraph(lines)


def _doc(src: Source, siblings: list[Node], idx: int) -> str:
    nodes = leading_comments(siblings, idx, _COMMENT, _ATTRIBUTE)
    # Prefer `///` / `/** */` doc comments; fall back to plain comments when there are none.
    docs = [n for n in nodes if n.child_by_field_name("outer") is not None]
    return comments_doc(src, docs or nodes)


def _is_pub(src: Source, node: Node) -> bool:
    first = first_named(node)
    # Only plain `pub` is public API; `pub(crate)` and friends stay inside the crate.
    return first is not None and first.type == "visibility_modifier" and src.text(first) == "pub"


def _export(ex: Extraction, public: bool, name: str, kind: str) -> None:
    if public:
        ex.add_export(name, kind)


def _function(src: Source, node: Node, doc: str) -> tuple[str, str, str, int]:
    body = node.child_by_field_name("body")
    end = body.start_byte if body is not None else node.end_byte
    sig = signature(src, node.start_byte, end).rstrip(";").rstrip()
    return src.field_text(node, "name"), sig, doc, line_of(node)


def _type(src: Source, ex: Extraction, node: Node, kind: str, doc: str) -> None:
    info = ex.add_type(src.field_text(node, "name"), kind, doc, line_of(node))
    if kind == "trait":
        body = node.child_by_field_name("body")
        if body is not None:
            _methods(src, info, body)


def _methods(src: Source, info: dict[str, Any], body: Node) -> None:
    items = body.children
    for idx, item in enumerate(items):
        if item.type in _FUNCTIONS:
            add_method(info, *_function(src, item, _doc(src, items, idx)))


def _impl_type_name(src: Source, node: Node | None) -> str:
    # `impl<T> Foo<T>`, `impl a::Foo`, `impl Trait for &Foo` all attach to Foo.
    while node is not None:
        kind = node.type
        if kind == "generic_type":
            node = node.child_by_field_name("type")
        elif kind in ("scoped_type_identifier", "scoped_identifier"):
            node = node.child_by_field_name("name")
        elif kind in ("reference_type", "pointer_type"):
            node = node.child_by_field_name("type")
        else:
            return src.text(node)
    return "?"


def _impl(src: Source, ex: Extraction, node: Node) -> None:
    name = _impl_type_name(src, node.child_by_field_name("type"))
    info = ex.add_type(name, "impl", "", line_of(node), implicit=True)
    body = node.child_by_field_name("body")
    if body is not None:
        _methods(src, info, body)


def _use(src: Source, ex: Extraction, node: Node, prefix: str, public: bool) -> list[str]:
    """Record one `use` tree under ``prefix``; return the path roots it mentions."""
    kind = node.type
    if kind == "use_as_clause":
        path = node.child_by_field_name("path")
        alias = src.field_text(node, "alias")
        if public and alias:
            ex.add_export(alias, "reexport")
        return _use(src, ex, path, prefix, False) if path is not None else []
    if kind == "use_wildcard":
        inner = first_named(node)
        full = _join(prefix, src.text(inner) if inner is not None else "")
        ex.add_import(full, ["*"])
        return [_root(full)]
    if kind == "scoped_use_list":
        path_node = node.child_by_field_name("path")
        sub = _join(prefix, src.text(path_node) if path_node is not None else "")
        use_list = node.child_by_field_name("list")
        return _use(src, ex, use_list, sub, public) if use_list is not None else []
    if kind == "use_list":
        roots: list[str] = []
        for child in node.named_children:
            if child.type not in _COMMENT:
                roots.extend(_use(src, ex, child, prefix, public))
        return roots
    full = _join(prefix, src.text(node))
    module, _sep, name = full.rpartition("::")
    if module:
        ex.add_import(module, [name])
    else:
        ex.add_import(full)
    if public and name not in ("self", "*"):
        ex.add_export(name, "reexport")
    return [_root(full)]


def _join(prefix: str, path: str) -> str:
    if not prefix:
        return path
    return f"{prefix}::{path}" if path else prefix


def _root(path: str) -> str:
    return path.lstrip(":").split("::", 1)[0]


def _dependencies(ex: Extraction, roots: list[str], local: set[str]) -> None:
    # Names brought into scope by `use` or defined here (`use Ordering::*` after importing
    # Ordering) are not crates.
    in_scope = set(local)
    in_scope.update(ex.types)
    for names in ex.imports.values():
        in_scope.update(names)
    for root in roots:
        if root and root not in _NOT_CRATES and root not in in_scope and not root[0].isupper():
            ex.dependencies.add(root)
