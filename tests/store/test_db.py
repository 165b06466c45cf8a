"""index.db: the schema, a corrupt file moved aside and rebuilt, a newer one left alone."""

from __future__ import annotations

import sqlite3

import pytest

from cq_lsp.errors import IndexError_
from cq_lsp.store.db import SCHEMA_VERSION, Database
from cq_lsp.store.ledger import Change, Ledger
from cq_lsp.worktree.project import Project
from tests.store.conftest import SHA_A


def test_schema_is_created_in_state_dir(project: Project, db: Database) -> None:
    assert project.index_db.is_file()
    assert db.rebuilt_from is None
    tables = {r["name"] for r in db.query("SELECT name FROM sqlite_master")}
    assert {"files", "files_fts", "jobs", "history", "counters", "meta"} <= tables
    cols = [r["name"] for r in db.query("PRAGMA table_info(files)")]
    # code-query's columns, in its order, first (docs/architecture.md: Files).
    assert cols[:16] == [
        "id",
        "dataset_id",
        "filepath",
        "filename",
        "overview",
        "ddd_context",
        "functions",
        "exports",
        "imports",
        "types_interfaces_classes",
        "constants",
        "dependencies",
        "other_notes",
        "documented_at_commit",
        "documented_at",
        "full_content",
    ]


def test_corrupt_index_is_moved_aside_and_rebuilt(project: Project) -> None:
    garbage = b"this is not a database \x00\xff" * 400
    project.index_db.write_bytes(garbage)
    db = Database(project.index_db)
    try:
        assert db.rebuilt_from is not None
        assert db.rebuilt_from.parent == project.state_dir
        assert db.rebuilt_from.name.startswith("index.db.corrupt-")
        assert db.rebuilt_from.read_bytes() == garbage  # kept for inspection
        assert list(project.state_dir.glob("index.db.corrupt-*")) == [db.rebuilt_from]
        ledger = Ledger(db)
        res = ledger.enqueue([Change("a.py", SHA_A)], source="rebuild")
        assert len(res.queued) == 1
        assert db.query("SELECT COUNT(*) AS n FROM files_fts")[0]["n"] == 0
        assert ledger.counts()["queued"] == 1
    finally:
        db.close()
    # Opening the rebuilt file again is clean.
    again = Database(project.index_db)
    try:
        assert again.rebuilt_from is None
        assert Ledger(again).counts()["queued"] == 1
    finally:
        again.close()


def test_second_corruption_gets_a_distinct_name(project: Project) -> None:
    for _ in range(2):
        project.index_db.write_bytes(b"garbage" * 1000)
        Database(project.index_db).close()
    assert len(list(project.state_dir.glob("index.db.corrupt-*"))) == 2


def test_an_index_from_a_newer_cq_lsp_is_refused_and_left_as_it_is(project: Project) -> None:
    db = Database(project.index_db)
    Ledger(db).enqueue([Change("a.py", SHA_A)], source="cli")
    db.close()
    conn = sqlite3.connect(str(project.index_db))
    conn.execute("CREATE TABLE future_things (x)")
    conn.execute(f"PRAGMA user_version={SCHEMA_VERSION + 1}")
    conn.commit()
    conn.close()

    with pytest.raises(IndexError_) as caught:
        Database(project.index_db)
    assert "written by a newer cq-lsp" in caught.value.message
    assert f"index schema {SCHEMA_VERSION + 1}" in caught.value.message
    assert caught.value.hint is not None and "cq-lsp index" in caught.value.hint

    conn = sqlite3.connect(str(project.index_db))
    try:
        assert conn.execute("PRAGMA user_version").fetchone()[0] == SCHEMA_VERSION + 1
        tables = {r[0] for r in conn.execute("SELECT name FROM sqlite_master")}
        assert {"future_things", "files_fts", "contents", "jobs"} <= tables
        assert conn.execute("SELECT path, state FROM jobs").fetchall() == [("a.py", "queued")]
    finally:
        conn.close()
    assert not list(project.state_dir.glob("index.db.corrupt-*"))
