"""Every supported language: definitions, containers, lines, signatures and docs of real files.

The fixtures are short real files (tests/fixtures/languages/README.md says where each comes from).
Universal Ctags is the oracle for the languages it knows: each of its definitions must be ours,
except where ctags is known to be wrong (listed, with the reason, per fixture).
"""

from __future__ import annotations

import json
import shutil
import subprocess
import sys
from pathlib import Path
from typing import Any

import pytest

from cq_lsp.documenters.base import DocumentContext
from cq_lsp.documenters.languages import TREE_SITTER_LANGUAGES, detect_language
from cq_lsp.documenters.records import SYMBOL_KINDS, FileRecord
from cq_lsp.documenters.static import StaticDocumenter
from cq_lsp.documenters.treesitter import tags
from cq_lsp.documenters.treesitter.common import whole_sentences
from tests.conftest import Cq, make_repo

FIXTURES = Path(__file__).resolve().parents[1] / "fixtures" / "languages"


def document(name: str, path: str | None = None) -> FileRecord:
    """Document a fixture as if it lived at ``path`` in a repository (not under tests/)."""
    text = (FIXTURES / name).read_text(encoding="utf-8")
    rel = path or f"src/{name}"
    return StaticDocumenter().document(rel, text, detect_language(rel), DocumentContext())


def sym(record: FileRecord, name: str, line: int | None = None) -> dict[str, Any]:
    found = [s for s in record.symbols if s["name"] == name and (line is None or s["line"] == line)]
    assert found, f"{name} not among {[(s['name'], s['line']) for s in record.symbols]}"
    return found[0]


def brief(record: FileRecord) -> list[tuple[str, str, int, str | None]]:
    return [(s["name"], s["kind"], s["line"], s["container"]) for s in record.symbols]


# --- each language -------------------------------------------------------------------------------


def test_c_preprocessor_is_code_not_prose() -> None:
    rec = document("strbuf.h")
    assert rec.language == "c"
    assert rec.overview == "strbuf.c: a growable string buffer."
    assert brief(rec) == [
        ("STRBUF_H", "constant", 5, None),
        ("STRBUF_INIT", "constant", 9, None),
        ("MAX", "macro", 10, None),
        ("strbuf", "struct", 13, None),
        ("strbuf_t", "type", 18, None),
        ("color", "enum", 19, None),
        ("strbuf_grow", "function", 25, None),
        ("strbuf_detach", "function", 30, None),
    ]
    grow = sym(rec, "strbuf_grow")
    # The declaration's first lines joined, without the body.
    assert grow["signature"] == "static void strbuf_grow(struct strbuf *sb, size_t extra)"
    assert grow["doc"] == "Grow the buffer so that it holds at least extra more bytes."
    assert sym(rec, "MAX")["signature"] == "#define MAX(a, b) ((a) > (b) ? (a) : (b))"
    assert rec.imports == {"stdio.h": [], "cache.h": []}
    assert rec.constants["STRBUF_INIT"] == "{ .alloc = 0, .len = 0 }"
    # A prototype declares, it does not define.
    assert "prototype_only" not in {s["name"] for s in rec.symbols}


def test_c_real_file_license_is_not_the_overview() -> None:
    rec = document("pids.c")
    assert rec.overview == "C file defining 1 function (_psutil_pids)."
    assert sym(rec, "_psutil_pids", 15)["signature"].startswith("int _psutil_pids(DWORD")
    assert "Python.h" in rec.imports


def test_cpp_methods_defined_out_of_class() -> None:
    rec = document("jp_voidtype.cpp")
    assert rec.language == "cpp"
    invoke = sym(rec, "invoke")
    assert (invoke["kind"], invoke["container"], invoke["line"]) == ("method", "JPVoidType", 41)
    assert sym(rec, "~JPVoidType")["line"] == 24
    assert rec.overview.startswith("C++ file defining 25 methods of JPVoidType (JPVoidType,")


def test_csharp_namespace_class_methods() -> None:
    rec = document("ReflectionPolyfills.cs")
    assert brief(rec)[:3] == [
        ("Python.Runtime", "module", 6, None),
        ("ReflectionPolyfills", "class", 8, "Python.Runtime"),
        ("DefineDynamicAssembly", "method", 10, "ReflectionPolyfills"),
    ]
    # Overloads are each a symbol of their own.
    assert [s["line"] for s in rec.symbols if s["name"] == "GetCustomAttribute"] == [20, 27]
    assert "System" in rec.dependencies


def test_ruby_nested_class_methods_and_predicates() -> None:
    rec = document("argument.rb")
    assert sym(rec, "Argument")["container"] == "Thor"
    assert sym(rec, "required?") == {
        "name": "required?",
        "kind": "method",
        "line": 31,
        "container": "Argument",
        "signature": "def required?",
        "doc": "",
    }
    assert sym(rec, "VALID_TYPES")["kind"] == "constant"


def test_php_namespace_class_and_doc() -> None:
    rec = document("StrongRenderer.php")
    render = sym(rec, "render")
    assert (render["container"], render["line"]) == ("StrongRenderer", 35)
    assert render["doc"] == "{@inheritDoc}"
    assert "League\\CommonMark\\Node\\Node" in rec.imports
    assert rec.dependencies == ["League"]


def test_kotlin_class_methods() -> None:
    rec = document("DateTypeConverter.kt")
    assert brief(rec)[0] == ("DateTypeConverter", "class", 17, None)
    assert sym(rec, "convertFromLong")["signature"] == (
        "private fun convertFromLong(value: Long): LocalDate"
    )
    assert sym(rec, "isTrivial")["container"] == "DateTypeConverter"
    assert any(module.startswith("java.time") for module in rec.imports)


def test_swift_struct_methods_and_doc_comments() -> None:
    rec = document("FieldOption.swift")
    assert brief(rec)[0] == ("FieldOption", "struct", 5, None)
    hash_ = sym(rec, "hash")
    assert hash_["container"] == "FieldOption"
    assert hash_["doc"].startswith("The options can be stored in `Set`")
    assert rec.overview.startswith("Enum-like struct representing field options")


def test_scala_trait_class_object() -> None:
    rec = document("parser.scala")
    assert ("Token", "interface", 6, None) in brief(rec)
    assert sym(rec, "Token")["doc"] == "A token read from the input."
    assert sym(rec, "next")["container"] == "Lexer"
    assert sym(rec, "next")["doc"] == "The next token, if any."
    assert "scala.collection.mutable" in rec.imports


def test_lua_module_functions_and_ldoc() -> None:
    rec = document("url.lua")
    assert rec.overview == "Python-style URL quoting library."
    quote = sym(rec, "quote")
    assert (quote["container"], quote["line"]) == ("url", 15)
    assert quote["doc"].startswith("Quote the url, replacing special characters")


def test_shell_functions_and_header_comment() -> None:
    rec = document("deploy.sh")
    assert rec.overview == (
        "Deploy the service to the staging hosts, one host at a time, and roll back when a health "
        "check fails."
    )
    assert brief(rec) == [
        ("deploy_host", "function", 9, None),
        ("rollback", "function", 13, None),
    ]
    assert sym(rec, "deploy_host")["doc"] == "Copy the release to one host."
    assert "./lib/common.sh" in rec.imports


def test_elixir_modules_functions_and_doc_attribute() -> None:
    rec = document("router.ex")
    call = sym(rec, "call")
    assert (call["container"], call["line"]) == ("MyApp.Router", 11)
    assert call["doc"] == "Dispatches a connection to the matching route."
    assert sym(rec, "render")["container"] == "MyApp.Renderable"
    assert {"MyApp.Controller", "Plug.Conn"} <= set(rec.imports)


def test_julia_methods_of_other_modules() -> None:
    rec = document("PySet.jl")
    length = sym(rec, "length")
    assert (length["container"], length["line"]) == ("Base", 15)
    assert [s["line"] for s in rec.symbols if s["name"] == "pop!"] == [64, 73]


def test_haskell_one_symbol_per_function() -> None:
    rec = document("Queue.hs")
    assert [s["line"] for s in rec.symbols if s["name"] == "pop"] == [16]
    assert sym(rec, "push")["doc"] == "Add an element at the back."
    assert sym(rec, "size")["container"] == "Sized"
    assert "Data.List" in rec.imports


def test_ocaml_top_level_lets_and_doc_comments() -> None:
    rec = document("stack.ml")
    assert rec.overview == "A persistent stack."
    assert sym(rec, "push")["doc"] == "[push x s] puts [x] on top of [s]."
    assert sym(rec, "push")["signature"] == "let push x s ="
    assert sym(rec, "size")["container"] == "Ops"
    # A helper local to a function is no definition of the file.
    assert "drop" not in {s["name"] for s in rec.symbols}


def test_go_receivers() -> None:
    rec = document("text.go")
    assert brief(rec) == [
        ("String", "struct", 15, None),
        ("Render", "method", 23, "String"),
        ("WriteContentType", "method", 28, "String"),
        ("WriteString", "function", 33, None),
    ]
    assert sym(rec, "Render")["doc"].startswith("Render (String) writes data")


def test_rust_impl_trait_and_modules() -> None:
    rec = document("lib.rs")
    assert brief(rec) == [
        ("Interval", "struct", 6, None),
        ("Measure", "interface", 12, None),
        ("len", "method", 14, "Measure"),
        ("new", "method", 19, "Interval"),
        ("len", "method", 25, "Interval"),
        ("fmt", "method", 31, "Interval"),
        ("parse", "module", 36, None),
        ("tests", "module", 39, None),
        ("new_keeps_bounds", "function", 41, "tests"),
    ]
    assert sym(rec, "len", 14)["doc"] == "The number of integers covered."


def test_javascript_commonjs_prototype_and_jsdoc() -> None:
    rec = document("application.js", "lib/application.js")
    assert brief(rec) == [
        ("init", "method", 24, "app"),
        ("listen", "method", 35, "app"),
        ("View", "function", 40, None),
        ("lookup", "method", 47, "View"),
        ("compileETag", "function", 51, None),
    ]
    # JSDoc across the blank line express leaves after it.
    assert sym(rec, "listen")["doc"] == "Listen for connections."
    assert sym(rec, "lookup")["signature"] == "View.prototype.lookup = function lookup(name)"
    assert rec.exports["compileETag"] == "commonjs"
    assert set(rec.types_interfaces_classes["app"]["methods"]) == {"init", "listen"}


def test_python_package_reexports() -> None:
    rec = document("__init__.py", "src/flask/__init__.py")
    assert rec.exports == {
        "json": "reexport",
        "Flask": "reexport",
        "Blueprint": "reexport",
        "Config": "reexport",
        "url_for": "reexport",
        "render_template": "reexport",
    }
    assert rec.overview == (
        "Python module re-exporting 6 names (json, Flask, Blueprint, Config, url_for, ...)."
    )


def test_python_symbols_have_containers_and_lines() -> None:
    src = (
        '"""Shapes."""\n\nLIMIT = 3\n\n\nclass Box:\n    """A box."""\n\n'
        "    def area(self) -> int:\n        return 1\n\n\n"
        "def make() -> Box:\n    return Box()\n"
    )
    rec = StaticDocumenter().document("shapes.py", src, "python", DocumentContext())
    assert brief(rec) == [
        ("LIMIT", "constant", 3, None),
        ("Box", "class", 6, None),
        ("area", "method", 9, "Box"),
        ("make", "function", 13, None),
    ]
    assert sym(rec, "Box")["doc"] == "A box."
    assert sym(rec, "area")["signature"] == "def area(self) -> int"


def test_every_symbol_kind_is_in_the_contract() -> None:
    for fixture in FIXTURES.iterdir():
        if fixture.name == "README.md":
            continue
        for s in document(fixture.name).symbols:
            assert s["kind"] in SYMBOL_KINDS, (fixture.name, s)
            assert s["line"] >= 1 and s["name"]


# --- against Universal Ctags ---------------------------------------------------------------------

_CTAGS_NAMES = {
    "c": "C", "cpp": "C++", "csharp": "C#", "ruby": "Ruby", "php": "PHP", "kotlin": "Kotlin",
    "lua": "Lua", "shell": "Sh", "elixir": "Elixir", "julia": "Julia", "haskell": "Haskell",
    "ocaml": "OCaml", "javascript": "JavaScript", "go": "Go", "rust": "Rust",
}  # fmt: skip
_COMPARED = {
    "function", "method", "class", "struct", "interface", "enum", "module", "typedef", "type",
    "namespace", "union", "singletonMethod", "trait", "protocol", "object", "typealias",
}  # fmt: skip
# Where ctags is wrong and we are right: (name, line) of its definitions we do not give.
_CTAGS_WRONG: dict[str, set[tuple[str, int]]] = {
    # ctags names the module `Data` (the first part of Data.Queue), calls the `class` keyword a
    # definition, and tags every equation of `pop` as a function of its own.
    "Queue.hs": {("Data", 1), ("class", 21), ("pop", 18), ("pop", 19)},
    # ctags tags `drop`, a helper local to `pop`, and makes up a module `Stack` for the file.
    "stack.ml": {("drop", 17), ("Stack", 1)},
    # `Base.@propagate_inbounds function Base.pop!(…)`: the macro call hides it from our query.
    "PySet.jl": {("pop!", 59)},
}


def _short(name: str) -> str:
    for sep in ("::", ".", ":"):
        if sep in name.strip(sep):
            name = name.rsplit(sep, 1)[1]
    return name.replace(" ", "")


@pytest.mark.skipif(shutil.which("ctags") is None, reason="universal-ctags not installed")
@pytest.mark.parametrize(
    "fixture",
    sorted(
        p.name
        for p in FIXTURES.iterdir()
        if detect_language(p.name) in _CTAGS_NAMES and p.name != "__init__.py"
    ),
)
def test_every_ctags_definition_is_ours(fixture: str) -> None:
    path = FIXTURES / fixture
    language = detect_language(fixture)
    force = f"--language-force={_CTAGS_NAMES[language]}"
    out = subprocess.run(
        ["ctags", "--output-format=json", "--fields=+nK", force, "-f", "-", str(path)],
        capture_output=True, text=True, check=True,
    ).stdout  # fmt: skip
    theirs = set()
    for line in out.splitlines():
        tag = json.loads(line)
        if tag.get("_type") == "tag" and tag.get("kind") in _COMPARED:
            theirs.add((_short(tag["name"]), int(tag["line"])))
    assert theirs, "ctags found nothing: the oracle is not running"
    ours = {(_short(s["name"]), s["line"]) for s in document(fixture).symbols}
    missing = {
        (name, line)
        for name, line in theirs - _CTAGS_WRONG.get(fixture, set())
        if not any((name, line + d) in ours for d in (-1, 0, 1))
    }
    assert not missing, f"ctags definitions we miss in {fixture}: {sorted(missing)}"


# --- config and markup ---------------------------------------------------------------------------


@pytest.mark.parametrize(
    ("path", "text", "expected", "overview"),
    [
        (
            ".github/workflows/ci.yml",
            "# Run the tests on every push.\nname: CI\non: [push]\njobs:\n  test:\n    x: 1\n",
            [("name", "key", 2, None), ("on", "key", 3, None), ("jobs", "key", 4, None)],
            "Run the tests on every push. YAML file with 3 top-level keys (name, on, jobs).",
        ),
        (
            "pyproject.toml",
            '[project]\nname = "x"\n\n[tool.ruff]\nline-length = 100\n',
            [
                ("project", "table", 1, None),
                ("name", "key", 2, "project"),
                ("tool.ruff", "table", 4, None),
                ("line-length", "key", 5, "tool.ruff"),
            ],
            "TOML file with 2 tables (project, tool.ruff).",
        ),
        (
            "package.json",
            '{\n  "name": "x",\n  "scripts": {"name": 1},\n  "version": "1"\n}\n',
            [("name", "key", 2, None), ("scripts", "key", 3, None), ("version", "key", 4, None)],
            "JSON file with 3 top-level keys (name, scripts, version).",
        ),
        (
            "Dockerfile",
            "FROM python:3.12 AS build\nRUN pip wheel .\nFROM debian:bookworm\n",
            [("build", "stage", 1, None), ("debian:bookworm", "stage", 3, None)],
            "Dockerfile with 2 build stages (build, debian:bookworm).",
        ),
        (
            "Makefile",
            ".PHONY: all\nCC := gcc\nall: build\n\t@echo\nbuild:\n\tmake\n",
            [("all", "target", 3, None), ("build", "target", 5, None)],
            "Makefile with 2 targets (all, build).",
        ),
        (
            "db/schema.sql",
            "-- The shop's schema.\nCREATE TABLE IF NOT EXISTS users (id int);\n"
            "create view recent as select 1;\nCREATE INDEX i ON users(id);\n",
            [("users", "table", 2, None), ("recent", "table", 3, None)],
            "The shop's schema. SQL file with 2 tables (users, recent).",
        ),
        (
            "docs/guide.rst",
            "Guide\n=====\n\nHow to use it.\n\nInstall\n-------\n\nRun pip.\n",
            [("Guide", "heading", 1, None), ("Install", "heading", 6, "Guide")],
            "Guide: How to use it.",
        ),
        (
            "docs/guide.adoc",
            "= Guide\n\nHow to use it.\n\n== Install\n\nRun pip.\n",
            [("Guide", "heading", 1, None), ("Install", "heading", 5, "Guide")],
            "Guide: How to use it.",
        ),
        (
            "README.md",
            "# Shop\n\nSells things.\n\n## Setup\n\n```sh\n# not a heading\n```\n",
            [("Shop", "heading", 1, None), ("Setup", "heading", 5, "Shop")],
            "Shop: Sells things.",
        ),
    ],
)
def test_config_and_markup_symbols(
    path: str, text: str, expected: list[tuple[str, str, int, str | None]], overview: str
) -> None:
    rec = StaticDocumenter().document(path, text, detect_language(path), DocumentContext())
    assert brief(rec) == expected
    assert rec.overview == overview


def test_overviews_end_at_a_sentence() -> None:
    long = "First sentence here. " + "Second one goes on and on " * 20 + "until it ends."
    assert whole_sentences(long, 100) == "First sentence here."
    assert whole_sentences("word " * 100, 40).endswith("…")
    assert len(whole_sentences("word " * 100, 40)) <= 40


# --- grammars ------------------------------------------------------------------------------------


def test_every_query_compiles_and_every_language_is_counted() -> None:
    for language in tags.SPECS:
        assert tags.compiled(language).query.pattern_count > 0, language
    assert len(TREE_SITTER_LANGUAGES - {"tsx"}) >= 20
    # The package's own queries ship with it (pyproject's package-data).
    own = {p.name for p in tags.QUERY_DIR.glob("*.scm")}
    assert {"c.scm", "cpp.scm", "kotlin.scm", "shell.scm", "julia.scm", "haskell.scm"} <= own
    pyproject = (Path(__file__).resolve().parents[2] / "pyproject.toml").read_text()
    assert '"cq_lsp.documenters.treesitter" = ["queries/*.scm"]' in pyproject


def test_a_missing_grammar_wheel_degrades_to_a_text_record() -> None:
    # A real interpreter in which the Ruby wheel cannot be imported.
    code = (
        "import sys; sys.modules['tree_sitter_ruby'] = None\n"
        "from cq_lsp.documenters.static import StaticDocumenter\n"
        "from cq_lsp.documenters.base import DocumentContext\n"
        "r = StaticDocumenter().document('lib/a.rb', '# Greets.\\ndef hi; end\\n', 'ruby',"
        " DocumentContext())\n"
        "print(r.overview); print(r.other_notes[0])\n"
    )
    out = subprocess.run(
        [sys.executable, "-c", code], capture_output=True, text=True, check=True
    ).stdout.splitlines()
    assert out[0] == "Greets."
    assert out[1].startswith("no tree-sitter grammar for ruby (tree_sitter_ruby)")


# --- show ----------------------------------------------------------------------------------------


def test_show_prints_every_method_with_its_line(cq_factory: Any, tmp_path: Path) -> None:
    methods = "".join(f"    def m{i:02d}(self):\n        pass\n\n" for i in range(30))
    repo = make_repo(tmp_path / "app", {"app.py": f"class Flask:\n{methods}"})
    cq: Cq = cq_factory(repo)
    cq.run("init")
    cq.json("index", "--wait")
    shown = cq.run("show", "app.py").stdout
    assert "Flask  L1  class" in shown
    assert ".m29  L89  def m29(self)" in shown  # past the old cap of 20 methods


def test_functions_nested_in_functions_are_symbols_of_their_own() -> None:
    py = (
        "def outer():\n    x = 1\n    # Helper.\n    def inner():\n        pass\n\n"
        "    class Local:\n        pass\n    return inner\n"
    )
    rec = StaticDocumenter().document("m.py", py, "python", DocumentContext())
    assert brief(rec) == [
        ("outer", "function", 1, None),
        ("inner", "function", 4, "outer"),
        ("Local", "class", 7, "outer"),
    ]
    assert sym(rec, "inner")["doc"] == "Helper."
    js = "app.use = function use(fn) {\n  function onmount(parent) {}\n  return this;\n};\n"
    rec = StaticDocumenter().document("a.js", js, "javascript", DocumentContext())
    assert brief(rec) == [("use", "method", 1, "app"), ("onmount", "function", 2, "use")]
    assert "app" not in rec.functions


def test_javascript_named_function_expressions_in_calls_and_returns() -> None:
    js = (
        "defineGetter(req, 'host', function host() {\n  return 1;\n});\n"
        "function json(options) {\n  return function jsonParser(req, res, next) {};\n}\n"
    )
    rec = StaticDocumenter().document("lib/json.js", js, "javascript", DocumentContext())
    assert brief(rec) == [
        ("host", "function", 1, None),
        ("json", "function", 4, None),
        ("jsonParser", "function", 5, "json"),
    ]
