"""JavaScript, TypeScript and TSX extraction (the TS grammars extend the JS one)."""

from __future__ import annotations

from tree_sitter import Node

from cq_lsp.documenters.treesitter.common import (
    NESTED_SYMBOLS,
    Extraction,
    Source,
    add_method,
    comments_doc,
    file_comment_overview,
    first_named,
    is_upper_name,
    last_row,
    leading_comments,
    line_of,
    signature,
    string_body,
    value_text,
)

_COMMENT = frozenset({"comment"})
_FILE_COMMENTS = frozenset({"comment", "hash_bang_line"})
_DECORATOR = frozenset({"decorator"})
_FUNCTIONS = frozenset(
    {"function_declaration", "generator_function_declaration", "function_signature"}
)
_CLASSES = frozenset({"class_declaration", "abstract_class_declaration", "class"})
_SIMPLE_TYPES = {
    "interface_declaration": "interface",
    "type_alias_declaration": "type alias",
    "enum_declaration": "enum",
}
_MODULES = frozenset({"internal_module", "module"})
_FUNCTION_VALUES = frozenset(
    {"arrow_function", "function_expression", "function", "generator_function"}
)
# Top-level nodes a comment directly above documents (rather than the whole file).
_DOCUMENTED = frozenset(
    {"export_statement", "lexical_declaration", "variable_declaration", "ambient_declaration"}
    | _FUNCTIONS
    | _CLASSES
    | set(_SIMPLE_TYPES)
    | _MODULES
)
_METHODS = frozenset({"method_definition", "method_signature", "abstract_method_signature"})
_NODE_BUILTINS = frozenset(
    {
        "assert", "async_hooks", "buffer", "child_process", "cluster", "console", "constants",
        "crypto", "dgram", "diagnostics_channel", "dns", "domain", "events", "fs", "http",
        "http2", "https", "inspector", "module", "net", "os", "path", "perf_hooks", "process",
        "punycode", "querystring", "readline", "repl", "stream", "string_decoder", "sys",
        "timers", "tls", "trace_events", "tty", "url", "util", "v8", "vm", "wasi",
        "worker_threads", "zlib",
    }
)  # fmt: skip
_NOT_PACKAGES = (".", "/", "node:", "#", "~", "http:", "https:", "bun:", "data:", "virtual:")


class _State:
    __slots__ = ("defined", "ex", "local_modules", "pending_exports", "src")

    def __init__(self, src: Source, ex: Extraction, local_modules: frozenset[str]) -> None:
        self.src = src
        self.ex = ex
        self.local_modules = local_modules
        self.defined: dict[str, str] = {}
        # `export { a, b as c }` may precede the definitions: resolve kinds at the end.
        self.pending_exports: list[tuple[str, str]] = []


def extract(src: Source, root: Node, local_modules: frozenset[str]) -> Extraction:
    ex = Extraction()
    state = _State(src, ex, local_modules)
    children = root.children
    ex.overview = file_comment_overview(src, children, _FILE_COMMENTS, _DOCUMENTED)
    for idx, node in enumerate(children):
        kind = node.type
        if kind == "comment":
            continue
        if kind == "import_statement":
            _import(state, node)
        elif kind == "export_statement":
            _export(state, node, _doc(src, children, idx))
        elif kind == "expression_statement":
            _expression(state, node, _doc(src, children, idx))
        else:
            _declare(state, node, _doc(src, children, idx))
    for exported, local in state.pending_exports:
        ex.add_export(exported, state.defined.get(local, "name"))
    return ex


def _doc(src: Source, siblings: list[Node], idx: int) -> str:
    found = leading_comments(siblings, idx, _COMMENT, _DECORATOR)
    if not found and idx > 0:
        # A JSDoc block keeps its meaning across one blank line (express writes them so).
        prev = siblings[idx - 1]
        if (
            prev.type == "comment"
            and siblings[idx].start_point.row - last_row(prev) <= 2
            and src.text(prev).startswith("/**")
        ):
            found = [prev]
    return comments_doc(src, found)


def _declare(state: _State, node: Node, doc: str) -> list[tuple[str, str]]:
    """Record one declaration; return the (name, export kind) pairs it defines."""
    kind = node.type
    if kind in _FUNCTIONS:
        return [_function(state, node, doc)]
    if kind in _CLASSES:
        return [_class(state, node, doc)]
    if kind in _SIMPLE_TYPES:
        return [_simple_type(state, node, doc, _SIMPLE_TYPES[kind])]
    if kind in ("lexical_declaration", "variable_declaration"):
        return _variables(state, node, doc)
    if kind in _MODULES:
        name_node = node.child_by_field_name("name")
        if name_node is None:
            return []
        # `declare module "pkg"` names the module with a string.
        name = (
            string_body(state.src, name_node)
            if name_node.type == "string"
            else state.src.text(name_node)
        )
        state.ex.add_type(name, "namespace", doc, line_of(node))
        return [(name, "namespace")]
    if kind == "ambient_declaration":
        found: list[tuple[str, str]] = []
        for child in node.named_children:
            found.extend(_declare(state, child, doc))
        return found
    return []


def _remember(state: _State, name: str, kind: str) -> tuple[str, str]:
    state.defined.setdefault(name, kind)
    return name, kind


def _function(state: _State, node: Node, doc: str) -> tuple[str, str]:
    src = state.src
    name = src.field_text(node, "name")
    body = node.child_by_field_name("body")
    end = body.start_byte if body is not None else node.end_byte
    sig = signature(src, node.start_byte, end).rstrip(";")
    state.ex.add_function(name, sig, doc, line_of(node))
    _nested(src, state.ex, body, name, 0)
    return _remember(state, name, "function")


def _class(state: _State, node: Node, doc: str) -> tuple[str, str]:
    src = state.src
    name = src.field_text(node, "name") or "default"
    info = state.ex.add_type(name, "class", doc, line_of(node))
    body = node.child_by_field_name("body")
    if body is not None:
        _members(src, info, body)
    return _remember(state, name, "class")


def _simple_type(state: _State, node: Node, doc: str, kind: str) -> tuple[str, str]:
    src = state.src
    name = src.field_text(node, "name")
    info = state.ex.add_type(name, kind, doc, line_of(node))
    body = node.child_by_field_name("body")
    if kind == "interface" and body is not None:
        _members(src, info, body)
    return _remember(state, name, kind)


def _members(src: Source, info: dict[str, object], body: Node) -> None:
    members = body.children
    for idx, member in enumerate(members):
        if member.type not in _METHODS:
            continue
        name = src.field_text(member, "name")
        inner = member.child_by_field_name("body")
        end = inner.start_byte if inner is not None else member.end_byte
        doc = comments_doc(src, leading_comments(members, idx, _COMMENT, _DECORATOR))
        sig = signature(src, member.start_byte, end).rstrip(";")
        add_method(info, name, sig, doc, line_of(member))
        _nested(src, None, inner, name, 0, info)


_NESTED_DEPTH = 3


def _nested(
    src: Source,
    ex: Extraction | None,
    body: Node | None,
    container: str,
    depth: int,
    info: dict[str, object] | None = None,
) -> None:
    """Function declarations in a function's body (express's ``onmount`` inside ``app.use``).

    Only the body's own statements are read, so the cost follows the number of statements.
    """
    if body is None or body.type != "statement_block" or depth >= _NESTED_DEPTH:
        return
    # Most bodies declare no function: one search of the bytes is cheaper than the statements.
    if src.data.find(b"function", body.start_byte + 1, body.end_byte) < 0:
        return
    statements = body.children
    for idx, statement in enumerate(statements):
        node = _named_function(statement)
        if node is None:
            continue
        name = src.field_text(node, "name")
        inner = node.child_by_field_name("body")
        end = inner.start_byte if inner is not None else node.end_byte
        doc = comments_doc(src, leading_comments(statements, idx, _COMMENT))
        symbol = {
            "name": name, "kind": "function", "line": line_of(node), "container": container,
            "signature": signature(src, node.start_byte, end), "doc": doc,
        }  # fmt: skip
        if ex is not None:
            ex.extra_symbols.append(symbol)
        elif info is not None:
            # A class body has no Extraction at hand: symbols_of reads these from the type.
            info.setdefault(NESTED_SYMBOLS, []).append(symbol)  # type: ignore[attr-defined]
        _nested(src, ex, inner, name, depth + 1, info)


def _named_function(statement: Node) -> Node | None:
    """The function a body statement defines by name: a declaration, ``return function f()``,
    ``var f = function f()`` (body-parser's parsers, express's ``app`` factory)."""
    kind = statement.type
    if kind in ("function_declaration", "generator_function_declaration"):
        return statement
    if kind == "return_statement":
        value = first_named(statement)
    elif kind in ("lexical_declaration", "variable_declaration"):
        declarator = first_named(statement)
        value = declarator.child_by_field_name("value") if declarator is not None else None
    else:
        return None
    if value is not None and value.type in _FUNCTION_VALUES and value.child_by_field_name("name"):
        return value
    return None


def _named_callbacks(state: _State, call: Node, doc: str) -> None:
    """``defineGetter(req, 'host', function host() {…})``: a named function handed to a call at
    the top level is a definition of the module (ctags lists them too)."""
    args = call.child_by_field_name("arguments")
    if args is None:
        return
    src = state.src
    for arg in args.named_children:
        if arg.type in _FUNCTION_VALUES and arg.child_by_field_name("name") is not None:
            name = src.field_text(arg, "name")
            body = arg.child_by_field_name("body")
            end = body.start_byte if body is not None else arg.end_byte
            state.ex.add_symbol(
                name, "function", line_of(arg), None, signature(src, arg.start_byte, end), doc
            )
            _nested(src, state.ex, body, name, 0)


def _variables(state: _State, node: Node, doc: str) -> list[tuple[str, str]]:
    src, ex = state.src, state.ex
    keyword = node.child(0) if node.child_count else None
    decl_kind = src.text(keyword) if keyword is not None else "var"
    found: list[tuple[str, str]] = []
    for declarator in node.named_children:
        if declarator.type != "variable_declarator":
            continue
        name_node = declarator.child_by_field_name("name")
        value = declarator.child_by_field_name("value")
        if name_node is None:
            continue
        if _require(state, value, _bound_names(src, name_node)):
            continue
        if name_node.type != "identifier":
            continue
        name = src.text(name_node)
        if value is not None and value.type in _FUNCTION_VALUES:
            body = value.child_by_field_name("body")
            end = body.start_byte if body is not None else value.end_byte
            sig = f"{decl_kind} {name} = {signature(src, value.start_byte, end)}"
            ex.add_function(name, sig, doc, line_of(declarator))
            found.append(_remember(state, name, "function"))
        elif decl_kind == "const" and is_upper_name(name):
            if value is not None:
                ex.add_constant(name, value_text(src, value), line_of(declarator))
            found.append(_remember(state, name, "constant"))
        else:
            found.append(_remember(state, name, "variable"))
    return found


def _bound_names(src: Source, pattern: Node) -> list[str]:
    if pattern.type == "identifier":
        return [src.text(pattern)]
    names: list[str] = []
    for child in pattern.named_children:
        if child.type == "shorthand_property_identifier_pattern":
            names.append(src.text(child))
        elif child.type == "pair_pattern":
            names.append(src.field_text(child, "key"))
    return names


def _require(state: _State, value: Node | None, names: list[str]) -> bool:
    """Record ``require("x")`` (possibly ``require("x").y``) as an import."""
    while value is not None and value.type == "member_expression":
        value = value.child_by_field_name("object")
    if value is None or value.type != "call_expression":
        return False
    if state.src.field_text(value, "function") != "require":
        return False
    args = value.child_by_field_name("arguments")
    first = first_named(args) if args is not None else None
    if first is None or first.type != "string":
        return False
    _add_import(state, string_body(state.src, first), names)
    return True


def _add_import(state: _State, spec: str, names: list[str]) -> None:
    state.ex.add_import(spec, names)
    package = package_name(spec)
    if package is not None and package not in state.local_modules:
        state.ex.dependencies.add(package)


def package_name(spec: str) -> str | None:
    """The npm package a bare import specifier names, or None for relative paths and builtins."""
    if not spec or spec.startswith(_NOT_PACKAGES):
        return None
    parts = spec.split("/")
    if spec.startswith("@"):
        if len(parts) < 2 or len(parts[0]) < 2 or not parts[1]:
            return None
        return f"{parts[0]}/{parts[1]}"
    if parts[0] in _NODE_BUILTINS:
        return None
    return parts[0]


def _import(state: _State, node: Node) -> None:
    src = state.src
    source = node.child_by_field_name("source")
    names: list[str] = []
    for child in node.named_children:
        if child.type == "import_clause":
            names.extend(_clause_names(src, child))
        elif child.type == "import_require_clause":
            source = child.child_by_field_name("source")
            first = first_named(child)
            if first is not None and first.type == "identifier":
                names.append(src.text(first))
    if source is not None:
        _add_import(state, string_body(src, source), names)


def _clause_names(src: Source, clause: Node) -> list[str]:
    names: list[str] = []
    for child in clause.named_children:
        if child.type == "identifier":
            names.append(src.text(child))
        elif child.type == "namespace_import":
            names.append("*")
        elif child.type == "named_imports":
            for spec in child.named_children:
                if spec.type == "import_specifier":
                    names.append(src.field_text(spec, "name"))
    return names


def _export(state: _State, node: Node, doc: str) -> None:
    src, ex = state.src, state.ex
    is_default = any(child.type == "default" for child in node.children)
    source = node.child_by_field_name("source")
    declaration = node.child_by_field_name("declaration")
    value = node.child_by_field_name("value")
    if declaration is not None:
        defined = _declare(state, declaration, doc)
        if is_default and defined:
            ex.add_export("default", defined[0][1])
        else:
            for name, kind in defined:
                ex.add_export(name, kind)
        return
    if value is not None:
        declared = _declare(state, value, doc) if value.type in _CLASSES else []
        local = src.text(value) if value.type == "identifier" else ""
        ex.add_export("default", declared[0][1] if declared else state.defined.get(local, "value"))
        return
    _export_clause(state, node, source)


def _export_clause(state: _State, node: Node, source: Node | None) -> None:
    src, ex = state.src, state.ex
    names: list[str] = []
    for child in node.children:
        if child.type == "export_clause":
            for spec in child.named_children:
                if spec.type != "export_specifier":
                    continue
                local = src.field_text(spec, "name")
                exported = src.field_text(spec, "alias") or local
                names.append(local)
                if source is not None:
                    ex.add_export(exported, "reexport")
                else:
                    state.pending_exports.append((exported, local))
        elif child.type == "namespace_export":
            alias = first_named(child)
            ex.add_export(src.text(alias) if alias is not None else "*", "namespace")
            names.append("*")
        elif child.type == "*":
            ex.add_export("*", "reexport")
            names.append("*")
        elif child.type == "identifier":  # TS `export = name`
            ex.add_export("default", state.defined.get(src.text(child), "value"))
    if source is not None:
        _add_import(state, string_body(src, source), names)


def _expression(state: _State, node: Node, doc: str) -> None:
    expr = first_named(node)
    if expr is None:
        return
    if expr.type in _MODULES:
        _declare(state, expr, doc)
    elif expr.type == "call_expression":
        if not _require(state, expr, []):
            _named_callbacks(state, expr, doc)
    elif expr.type == "assignment_expression":
        _commonjs_export(state, expr)
        _member_definition(state, expr, doc)


def _exported_function(state: _State, prop: Node, key: Node) -> None:
    """A function written inline in ``module.exports = {…}`` is a function of the module."""
    src = state.src
    value = prop if prop.type == "method_definition" else prop.child_by_field_name("value")
    if value is None or (value.type != "method_definition" and value.type not in _FUNCTION_VALUES):
        return
    body = value.child_by_field_name("body")
    end = body.start_byte if body is not None else value.end_byte
    name = src.text(key).strip("\"'")
    state.ex.add_function(name, signature(src, prop.start_byte, end), "", line_of(key))


def _member_definition(state: _State, expr: Node, doc: str) -> None:
    """``obj.m = function``, ``Foo.prototype.m = …``, ``exports.x = …``, ``Foo.prototype = {…}``.

    CommonJS and pre-class code define most of their API this way (express's ``app.listen``).
    """
    src, ex = state.src, state.ex
    left = expr.child_by_field_name("left")
    right = expr.child_by_field_name("right")
    if left is None or right is None or left.type != "member_expression":
        return
    obj = left.child_by_field_name("object")
    prop = left.child_by_field_name("property")
    if obj is None or prop is None:
        return
    owner = src.text(obj)
    name = src.text(prop)
    if owner.endswith(".prototype"):
        owner = owner[: -len(".prototype")]
    if name == "prototype" and right.type == "object":
        _object_methods(state, owner, right)
        return
    if right.type not in _FUNCTION_VALUES and right.type != "class":
        return
    if "." in owner or owner == "this":
        return  # `a.b.c = function` is a nested namespace; too deep to name reliably
    body = right.child_by_field_name("body")
    end = body.start_byte if body is not None else right.end_byte
    sig = signature(src, left.start_byte, end)
    if owner in ("exports", "module"):
        ex.add_function(name, sig, doc, line_of(prop))
        state.defined.setdefault(name, "function")
        return
    info = ex.add_type(owner, "object", "", line_of(prop), implicit=owner not in ex.types)
    add_method(info, name, sig, doc, line_of(prop))
    _nested(src, ex, body, name, 0)


def _object_methods(state: _State, owner: str, obj: Node) -> None:
    src, ex = state.src, state.ex
    members = obj.children
    info = ex.add_type(owner, "object", "", line_of(obj), implicit=owner not in ex.types)
    for idx, member in enumerate(members):
        doc = comments_doc(src, leading_comments(members, idx, _COMMENT))
        if member.type == "method_definition":
            body = member.child_by_field_name("body")
            end = body.start_byte if body is not None else member.end_byte
            add_method(
                info, src.field_text(member, "name"), signature(src, member.start_byte, end), doc,
                line_of(member),
            )  # fmt: skip
        elif member.type == "pair":
            key = member.child_by_field_name("key")
            value = member.child_by_field_name("value")
            if key is None or value is None or value.type not in _FUNCTION_VALUES:
                continue
            body = value.child_by_field_name("body")
            end = body.start_byte if body is not None else value.end_byte
            add_method(
                info, src.text(key).strip("\"'"), signature(src, member.start_byte, end), doc,
                line_of(key),
            )  # fmt: skip


def _commonjs_export(state: _State, expr: Node) -> None:
    src, ex = state.src, state.ex
    left = expr.child_by_field_name("left")
    right = expr.child_by_field_name("right")
    if left is None or left.type != "member_expression":
        return
    target = src.text(left)
    if target == "module.exports":
        if right is not None and right.type == "object":
            for prop in right.named_children:
                if prop.type == "shorthand_property_identifier":
                    ex.add_export(src.text(prop), "commonjs")
                elif prop.type in ("pair", "method_definition"):
                    key = prop.child_by_field_name("key") or prop.child_by_field_name("name")
                    if key is not None:
                        ex.add_export(src.text(key).strip("\"'"), "commonjs")
                        _exported_function(state, prop, key)
        else:
            ex.add_export("default", "commonjs")
        return
    obj = src.field_text(left, "object")
    if obj in ("exports", "module.exports"):
        ex.add_export(src.field_text(left, "property"), "commonjs")
