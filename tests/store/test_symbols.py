"""Symbols as rows: kept with their file, found by name (exact, dotted, prefix, fuzzy), the CLI."""

from __future__ import annotations

import sqlite3
from collections.abc import Iterator
from pathlib import Path

import pytest

from cq_lsp.lsp.symbols import SymbolTable
from cq_lsp.store.db import Database
from cq_lsp.store.documentation import get_record
from cq_lsp.store.ledger import Change, Ledger
from cq_lsp.store.symbols import find_symbols, lookup, members
from cq_lsp.worktree.project import Project
from tests.conftest import Cq, make_repo
from tests.store_helpers import document_tree, forget_missing

GO_ENGINE = """package gin

// Engine is the framework's instance.
type Engine struct{}

// ServeHTTP conforms to the http.Handler interface.
func (engine *Engine) ServeHTTP(w int, r int) {
}

func (engine *Engine) Run() {}
"""
GO_CALLER = "package gin\n\nfunc serve(e *Engine) {\n\te.ServeHTTP(1, 2)\n\te.ServeHTTP(3, 4)\n}\n"
FILES = {
    "gin.go": GO_ENGINE,
    "context.go": GO_CALLER,
    "src/render.py": "class Render:\n    pass\n\n\ndef render(page):\n    return page\n",
    "src/pages.py": "def render_page(p):\n    return p\n\n\ndef parse_invoice(t):\n    return t\n",
    "tests/test_pages.py": "def render_page(p):\n    return p\n\n\ndef test_render():\n    pass\n",
    "web/app.ts": "export class Application {\n  listen(port: number) {\n"
    "    return port;\n  }\n}\n",
}


@pytest.fixture
def project(tmp_path: Path, isolated_env: dict[str, str]) -> Project:
    p = Project(make_repo(tmp_path / "syms", {}))
    p.ensure_state_dir()
    return p


@pytest.fixture
def db(project: Project) -> Iterator[Database]:
    d = Database(project.index_db)
    document_tree(project.root, d, FILES)
    yield d
    d.close()


def where(found: list[dict]) -> list[str]:
    return [f"{s['path']}:{s['line']}" for s in found]


def test_symbol_rows_have_the_contract_shape(db: Database) -> None:
    found = find_symbols(db, "ServeHTTP")
    assert found[0] == {
        "name": "ServeHTTP",
        "kind": "method",
        "path": "gin.go",
        "line": 7,
        "container": "Engine",
        "signature": found[0]["signature"],
        "doc": found[0]["doc"],
    }
    assert "ServeHTTP" in found[0]["signature"]
    assert "http.Handler" in found[0]["doc"]


def test_show_lists_a_files_symbols_in_line_order(db: Database) -> None:
    """`show --json` carries the file's definitions, each with its line (the contract)."""
    record = get_record(db, "gin.go")
    assert record is not None
    lines = [s["line"] for s in record["symbols"]]
    assert lines == sorted(lines) and lines
    serve = next(s for s in record["symbols"] if s["name"] == "ServeHTTP")
    assert (serve["kind"], serve["line"], serve["container"]) == ("method", 7, "Engine")


def test_exact_case_sensitive_before_insensitive(db: Database) -> None:
    assert [s["name"] for s in find_symbols(db, "render")][:2] == ["render", "Render"]
    assert [s["name"] for s in find_symbols(db, "Render")][:2] == ["Render", "render"]


@pytest.mark.parametrize(
    ("query", "expected"),
    [
        ("Engine.ServeHTTP", "gin.go:7"),
        ("engine.servehttp", "gin.go:7"),
        ("Engine::Run", "gin.go:10"),
        ("Application.listen", "web/app.ts:2"),
    ],
)
def test_dotted_names_find_the_method_of_that_container(
    db: Database, query: str, expected: str
) -> None:
    assert where(find_symbols(db, query))[0] == expected


def test_members_are_what_a_dotted_lookup_finds_first(project: Project, db: Database) -> None:
    # Methods of a class in its file (a parent row) and of a type declared elsewhere (container
    # text only), and a name many classes define.
    cases = "".join(f"class Case{i}:\n    def run(self):\n        pass\n\n\n" for i in range(30))
    handlers = "package gin\n\nfunc (engine *Engine) Handle() {}\n\nfunc (r *Router) Handle() {}\n"
    toml = '[tool.codespell]\nignore-words-list = "te"\n\n[package.metadata.deb]\nassets = []\n'
    document_tree(
        project.root,
        db,
        {"handlers.go": handlers, "src/cases.py": cases, "pyproject.toml": toml},
    )
    found = {}
    for container, name in (
        ("engine", "serve_http"),
        ("Engine", "ServeHTTP"),
        ("engine", "handle"),
        ("router", "handle"),
        ("case3", "run"),
        ("application", "listen"),
        ("gin.Engine", "Run"),
        ("nothing", "run"),
        ("render", "render"),
        ("codespell", "ignore_words_list"),  # a key of a qualified table, by its last part
        ("tool.codespell", "ignore-words-list"),
        ("deb", "assets"),
    ):
        first = lookup(db, f"{container}.{name}", fuzzy=False, prefix=0, details=False)
        found[container, name] = members(db, container, name)
        assert found[container, name] == [m for m in first if m.tier <= 1], (container, name)
    assert [m.path for m in found["engine", "handle"]] == ["handlers.go"]
    assert [(m.path, m.tier) for m in found["Engine", "ServeHTTP"]] == [("gin.go", 0)]
    assert [(m.path, m.line) for m in found["case3", "run"]] == [("src/cases.py", 17)]
    assert found["nothing", "run"] == [] and found["render", "render"] == []
    assert [m.qualified for m in found["codespell", "ignore_words_list"]] == [
        "tool.codespell.ignore-words-list"
    ]
    assert [m.path for m in found["deb", "assets"]] == ["pyproject.toml"]


def test_source_definition_before_the_same_name_in_a_test(db: Database) -> None:
    assert where(find_symbols(db, "render_page")) == ["src/pages.py:1", "tests/test_pages.py:1"]


def test_prefix_then_fuzzy(db: Database) -> None:
    names = [s["name"] for s in find_symbols(db, "render_p")]
    assert names[:2] == ["render_page", "render_page"]  # prefix: src first, then tests
    fuzzy = [s["name"] for s in find_symbols(db, "prsinv")]
    assert fuzzy == ["parse_invoice"]
    assert find_symbols(db, "zzqqxx") == []


def test_kind_filter_and_limit(db: Database) -> None:
    assert {s["kind"] for s in find_symbols(db, "render", kind="class")} == {"class"}
    assert len(find_symbols(db, "r", limit=2)) == 2
    assert find_symbols(db, "   ") == []


def test_symbols_are_replaced_with_their_file_and_deleted_with_it(
    project: Project, db: Database
) -> None:
    document_tree(project.root, db, {"src/pages.py": "def paginate(items):\n    return items\n"})
    assert find_symbols(db, "parse_invoice") == []
    assert where(find_symbols(db, "paginate")) == ["src/pages.py:1"]
    # A deleted file takes its symbols (and its role row) with it, in the same transaction.
    (project.root / "gin.go").unlink()
    ledger = Ledger(db)
    ledger.enqueue([Change("gin.go", "0" * 40)], source="test")
    assert forget_missing(db, "gin.go", "0" * 40)
    assert all(s["path"] != "gin.go" for s in find_symbols(db, "ServeHTTP"))
    orphans = db.query(
        "SELECT COUNT(*) AS n FROM symbols WHERE file_id NOT IN (SELECT id FROM files)"
    )[0]["n"]
    assert orphans == 0


def test_an_index_of_schema_2_gets_its_symbols_back(project: Project, db: Database) -> None:
    db.close()
    conn = sqlite3.connect(project.index_db)
    conn.execute("DELETE FROM symbols")
    conn.execute("DELETE FROM file_roles")
    conn.execute("PRAGMA user_version=2")
    conn.commit()
    conn.close()
    again = Database(project.index_db)
    try:
        assert where(find_symbols(again, "Engine.ServeHTTP"))[0] == "gin.go:7"
        roles = again.query(
            "SELECT role FROM file_roles JOIN files ON id = file_id WHERE filepath = ?",
            ("tests/test_pages.py",),
        )
        assert roles[0]["role"] == "test"
    finally:
        again.close()


# -- the command line ------------------------------------------------------------------------------


@pytest.fixture
def cli_repo(repo: Path, cq: Cq) -> Path:
    cq.run("init")
    d = Database(Project(repo).index_db)
    try:
        document_tree(repo, d, FILES)
    finally:
        d.close()
    return repo


def test_cli_symbol_prints_path_and_line(cli_repo: Path, cq: Cq) -> None:
    out = cq.run("symbol", "Engine.ServeHTTP").stdout
    assert out.splitlines()[0].startswith("gin.go:7  Engine.ServeHTTP  method")
    data = cq.json("symbol", "render", "--kind", "function")
    assert data["query"] == "render"
    assert data["symbols"][0]["path"] == "src/render.py"
    assert {s["kind"] for s in data["symbols"]} == {"function"}
    assert cq.run("symbol", "nothingnamedso").stdout.startswith("no definition of")


def test_cli_symbol_says_whether_each_definition_is_current(cli_repo: Path, cq: Cq) -> None:
    assert cq.json("symbol", "Engine.ServeHTTP")["symbols"][0]["fresh"] is True
    cq.run("config", "set", "processing.mode", "manual")  # keep it stale: nothing re-documents
    with (cli_repo / "gin.go").open("a") as fh:
        fh.write("\n// changed after it was documented\n")
    found = cq.json("symbol", "Engine.ServeHTTP")["symbols"][0]
    assert found["fresh"] is False and found["documented_sha"] != found["current_sha"]
    assert "[stale]" in cq.run("symbol", "Engine.ServeHTTP").stdout


def test_the_editor_table_lists_symbols_for_an_empty_query(db: Database) -> None:
    table = SymbolTable(db)
    listed = table.search("", limit=3)
    assert [(m.path, m.line) for m in listed] == sorted((m.path, m.line) for m in listed)
    assert len(listed) == 3
    assert [m.path for m in table.search("Engine.ServeHTTP")][:1] == ["gin.go"]
    assert [d.path for d in table.definitions("render_page")] == [
        "src/pages.py",
        "tests/test_pages.py",
    ]
