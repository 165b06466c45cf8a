"""Go extraction: package comment, funcs, types with their methods, imports, consts."""

from __future__ import annotations

from typing import Any

from tree_sitter import Node

from cq_lsp.documenters.treesitter.common import (
    Extraction,
    Source,
    add_method,
    comments_doc,
    file_comment_overview,
    first_named,
    leading_comments,
    line_of,
    signature,
    string_body,
    value_text,
)

_COMMENT = frozenset({"comment"})
_TYPE_KINDS = {"struct_type": "struct", "interface_type": "interface"}


def extract(src: Source, root: Node, local_modules: frozenset[str]) -> Extraction:
    ex = Extraction()
    children = root.children
    # The package comment sits directly above `package`; a detached block above it is usually a
    # license or build constraint, which file_comment_overview skips.
    ex.overview = file_comment_overview(src, children, _COMMENT, frozenset())
    methods: list[tuple[str, Node, str]] = []
    for idx, node in enumerate(children):
        kind = node.type
        if kind == "comment":
            continue
        if kind == "package_clause":
            ident = first_named(node)
            ex.package = src.text(ident) if ident is not None else ""
        elif kind == "import_declaration":
            _imports(src, ex, node)
        elif kind == "function_declaration":
            _function(src, ex, node, _doc(src, children, idx))
        elif kind == "method_declaration":
            receiver = _receiver_type(src, node)
            methods.append((receiver, node, _doc(src, children, idx)))
        elif kind == "type_declaration":
            _types(src, ex, node, _doc(src, children, idx))
        elif kind == "const_declaration":
            _consts(src, ex, node)
        elif kind == "var_declaration":
            _vars(src, ex, node)
    # Methods may precede their type in the file, so attach them once every type is known.
    for receiver, node, doc in methods:
        info = ex.add_type(receiver, "type", "", line_of(node), implicit=True)
        add_method(info, *_func_parts(src, node, doc))
    return ex


def _doc(src: Source, siblings: list[Node], idx: int) -> str:
    return comments_doc(src, leading_comments(siblings, idx, _COMMENT))


def _exported(name: str) -> bool:
    return name[:1].isupper()


def _func_parts(src: Source, node: Node, doc: str) -> tuple[str, str, str, int]:
    body = node.child_by_field_name("body")
    end = body.start_byte if body is not None else node.end_byte
    return src.field_text(node, "name"), signature(src, node.start_byte, end), doc, line_of(node)


def _function(src: Source, ex: Extraction, node: Node, doc: str) -> None:
    name, sig, doc, line = _func_parts(src, node, doc)
    ex.add_function(name, sig, doc, line)
    if _exported(name):
        ex.add_export(name, "function")


def _receiver_type(src: Source, node: Node) -> str:
    receiver = node.child_by_field_name("receiver")
    param = first_named(receiver) if receiver is not None else None
    typ = param.child_by_field_name("type") if param is not None else None
    # Strip pointers, generics and parentheses: `(l *List[T])` -> List.
    while typ is not None and typ.type in ("pointer_type", "generic_type", "parenthesized_type"):
        typ = typ.child_by_field_name("type") or first_named(typ)
    return src.text(typ) if typ is not None else "?"


def _types(src: Source, ex: Extraction, node: Node, doc: str) -> None:
    specs = node.children
    grouped = sum(1 for spec in specs if spec.type in ("type_spec", "type_alias")) > 1
    for idx, spec in enumerate(specs):
        if spec.type not in ("type_spec", "type_alias"):
            continue
        name = src.field_text(spec, "name")
        # In `type ( ... )` groups each spec has its own comment; a lone spec uses the one above
        # the `type` keyword (the parent declaration).
        spec_doc = comments_doc(src, leading_comments(specs, idx, _COMMENT))
        if not grouped and not spec_doc:
            spec_doc = doc
        typ = spec.child_by_field_name("type")
        kind = "type alias" if spec.type == "type_alias" else "type"
        if typ is not None and kind == "type":
            kind = _TYPE_KINDS.get(typ.type, "type")
        info = ex.add_type(name, kind, spec_doc, line_of(spec))
        if typ is not None and typ.type == "interface_type":
            _interface_methods(src, info, typ)
        if _exported(name):
            ex.add_export(name, kind)


def _interface_methods(src: Source, info: dict[str, Any], typ: Node) -> None:
    elems = typ.children
    for idx, elem in enumerate(elems):
        if elem.type not in ("method_elem", "method_spec"):
            continue
        doc = comments_doc(src, leading_comments(elems, idx, _COMMENT))
        add_method(
            info,
            src.field_text(elem, "name"),
            signature(src, elem.start_byte, elem.end_byte),
            doc,
            line_of(elem),
        )


def _imports(src: Source, ex: Extraction, node: Node) -> None:
    specs: list[Node] = []
    for child in node.named_children:
        if child.type == "import_spec":
            specs.append(child)
        elif child.type == "import_spec_list":
            specs.extend(c for c in child.named_children if c.type == "import_spec")
    for spec in specs:
        path_node = spec.child_by_field_name("path")
        if path_node is None:
            continue
        path = string_body(src, path_node)
        alias = src.field_text(spec, "name")
        ex.add_import(path, [alias] if alias else [])
        if "." in path.split("/", 1)[0]:
            ex.dependencies.add(path)


def _specs(node: Node, spec_type: str) -> list[Node]:
    found: list[Node] = []
    for child in node.named_children:
        if child.type == spec_type:
            found.append(child)
        elif child.type.endswith("_spec_list"):
            found.extend(c for c in child.named_children if c.type == spec_type)
    return found


def _consts(src: Source, ex: Extraction, node: Node) -> None:
    previous = ""
    for spec in _specs(node, "const_spec"):
        names = [src.text(n) for n in spec.children_by_field_name("name")]
        value = spec.child_by_field_name("value")
        values = [value_text(src, v) for v in value.named_children] if value is not None else []
        if value is not None:
            previous = value_text(src, value)
        for i, name in enumerate(names):
            if i < len(values) and len(values) == len(names):
                text = values[i]
            elif value is not None:
                text = value_text(src, value)
            else:
                # Go repeats the previous expression list (typically iota) for a bare name.
                text = f"{previous} (implicit)" if previous else ""
            if name != "_":
                ex.add_constant(name, text, line_of(spec))
            if _exported(name):
                ex.add_export(name, "constant")


def _vars(src: Source, ex: Extraction, node: Node) -> None:
    for spec in _specs(node, "var_spec"):
        for name_node in spec.children_by_field_name("name"):
            name = src.text(name_node)
            if _exported(name):
                ex.add_export(name, "variable")
