"""Java extraction: leading comment, types with methods, imports, static final constants."""

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
    value_text,
)

_COMMENT = frozenset({"line_comment", "block_comment"})
_TYPES = {
    "class_declaration": "class",
    "interface_declaration": "interface",
    "enum_declaration": "enum",
    "record_declaration": "record",
    "annotation_type_declaration": "annotation",
}
_METHODS = frozenset(
    {"method_declaration", "constructor_declaration", "compact_constructor_declaration"}
)
_FIELDS = frozenset({"field_declaration", "constant_declaration"})
_ANNOTATIONS = frozenset({"annotation", "marker_annotation"} | _COMMENT)
_JDK_PREFIXES = ("java.", "javax.")
_MAX_NESTING = 2


def extract(src: Source, root: Node, local_modules: frozenset[str]) -> Extraction:
    ex = Extraction()
    children = root.children
    ex.overview = file_comment_overview(src, children, _COMMENT, frozenset(_TYPES))
    for idx, node in enumerate(children):
        kind = node.type
        if kind == "package_declaration":
            ident = first_named(node)
            ex.package = src.text(ident) if ident is not None else ""
        elif kind == "import_declaration":
            _import(src, ex, node, local_modules)
        elif kind in _TYPES:
            doc = comments_doc(src, leading_comments(children, idx, _COMMENT))
            _type(src, ex, node, doc, "")
    _drop_own_packages(ex)
    if not ex.overview:
        # Java files rarely carry a file comment; the public type's Javadoc describes the file.
        ex.overview = next((t["doc"] for t in ex.types.values() if t["doc"]), "")
    return ex


def _modifiers(src: Source, node: Node) -> tuple[Node | None, str]:
    for child in node.children:
        if child.type == "modifiers":
            words = [src.text(c) for c in child.children if c.type not in _ANNOTATIONS]
            return child, " ".join(words)
    return None, ""


def _decl_start(node: Node, modifiers: Node | None) -> int:
    """Where the declaration proper begins: after any annotations in the modifiers."""
    if modifiers is not None:
        for child in modifiers.children:
            if child.type not in _ANNOTATIONS:
                return child.start_byte
        following = modifiers.next_sibling
        if following is not None:
            return following.start_byte
    return node.start_byte


def _type(
    src: Source,
    ex: Extraction,
    node: Node,
    doc: str,
    outer: str,
    *,
    interface: bool = False,
    exported_outer: bool = True,
) -> None:
    kind = _TYPES[node.type]
    name = src.field_text(node, "name")
    qualname = f"{outer}.{name}" if outer else name
    info = ex.add_type(qualname, kind, doc, _name_line(node))
    _mods_node, mods = _modifiers(src, node)
    # Members of a package-private type are not public API, whatever their modifiers say.
    public = "public" in mods.split() or (interface and exported_outer)
    if public:
        ex.add_export(qualname, kind)
    body = node.child_by_field_name("body")
    if body is None:
        return
    members = list(body.children)
    # Enum methods live one level down, in enum_body_declarations.
    for member in body.children:
        if member.type == "enum_body_declarations":
            members.extend(member.children)
    member_interface = kind in ("interface", "annotation")
    for idx, member in enumerate(members):
        mtype = member.type
        if mtype in _METHODS:
            doc = _doc(src, members, idx)
            _method(src, ex, info, qualname, member, doc, member_interface, public)
        elif mtype in _FIELDS:
            implicit = member_interface or mtype == "constant_declaration"
            _field(src, ex, qualname, member, implicit, public)
        elif mtype in _TYPES and qualname.count(".") < _MAX_NESTING:
            doc = _doc(src, members, idx)
            _type(
                src,
                ex,
                member,
                doc,
                qualname,
                interface=member_interface,
                exported_outer=public,
            )


def _name_line(node: Node) -> int:
    # Annotations start the node; the line people look for is the one with the name.
    name = node.child_by_field_name("name")
    return line_of(name if name is not None else node)


def _doc(src: Source, siblings: list[Node], idx: int) -> str:
    return comments_doc(src, leading_comments(siblings, idx, _COMMENT))


def _method(
    src: Source,
    ex: Extraction,
    info: dict[str, Any],
    owner: str,
    node: Node,
    doc: str,
    interface: bool,
    owner_public: bool,
) -> None:
    modifiers, mods = _modifiers(src, node)
    body = node.child_by_field_name("body")
    end = body.start_byte if body is not None else node.end_byte
    sig = signature(src, _decl_start(node, modifiers), end).rstrip(";").rstrip()
    name = src.field_text(node, "name")
    add_method(info, name, sig, doc, _name_line(node))
    words = mods.split()
    if owner_public and ("public" in words or (interface and "private" not in words)):
        kind = "method" if node.type == "method_declaration" else "constructor"
        ex.add_export(f"{owner}.{name}", kind)


def _field(
    src: Source, ex: Extraction, owner: str, node: Node, implicit_static: bool, owner_public: bool
) -> None:
    _modifiers_node, mods = _modifiers(src, node)
    words = mods.split()
    constant = implicit_static or ("static" in words and "final" in words)
    public = owner_public and ("public" in words or implicit_static)
    for declarator in node.children_by_field_name("declarator"):
        name = src.field_text(declarator, "name")
        if constant:
            ex.add_constant(
                name, value_text(src, declarator.child_by_field_name("value")), line_of(declarator)
            )
        if public:
            ex.add_export(f"{owner}.{name}", "constant" if constant else "field")


def _import(src: Source, ex: Extraction, node: Node, local_modules: frozenset[str]) -> None:
    path_node = next(
        (c for c in node.named_children if c.type in ("scoped_identifier", "identifier")), None
    )
    if path_node is None:
        return
    path = src.text(path_node)
    if any(c.type == "asterisk" for c in node.named_children):
        ex.add_import(path, ["*"])
    else:
        module, _sep, name = path.rpartition(".")
        ex.add_import(module or path, [name] if module else [])
    if path.startswith(_JDK_PREFIXES) or path.split(".", 1)[0] in local_modules:
        return
    ex.dependencies.add(_package_of(path))


def _package_of(path: str) -> str:
    # Packages are lower case by convention; the first capitalised segment starts the class.
    parts: list[str] = []
    for part in path.split("."):
        if part[:1].isupper():
            break
        parts.append(part)
    return ".".join(parts) or path


def _drop_own_packages(ex: Extraction) -> None:
    # Imports from the file's own organisation (same first two package segments) are local.
    own = ".".join(ex.package.split(".")[:2])
    if own and "." in own:
        ex.dependencies = {d for d in ex.dependencies if d != own and not d.startswith(own + ".")}
