"""Fixtures of the store tests: a work tree with an initialized index.db, its ledger and guard."""

from __future__ import annotations

import os
import sqlite3
from collections.abc import Iterator
from pathlib import Path

import pytest

from cq_lsp.documenters.records import FileRecord
from cq_lsp.store.db import Database
from cq_lsp.store.ledger import Change, Ledger, key_of
from cq_lsp.worktree.guard import FileContent, PathGuard
from cq_lsp.worktree.project import Project
from tests.conftest import make_repo
from tests.store_helpers import claim, commit_job

DATASET = "shop"
SHA_A = "a" * 40
SHA_B = "b" * 40


@pytest.fixture
def project(tmp_path: Path, isolated_env: dict[str, str]) -> Project:
    root = make_repo(tmp_path / "shop", {"a.py": "A = 1\n"})
    p = Project(root)
    p.ensure_state_dir()
    return p


@pytest.fixture
def db(project: Project) -> Iterator[Database]:
    d = Database(project.index_db)
    yield d
    d.close()


@pytest.fixture
def ledger(db: Database) -> Ledger:
    return Ledger(db)


@pytest.fixture
def guard(project: Project) -> PathGuard:
    return PathGuard(project.root, [], 1_000_000)


def job_row(db: Database, rel: str) -> sqlite3.Row | None:
    rows = db.query("SELECT * FROM jobs WHERE path = ?", (key_of(rel)[0],))
    return rows[0] if rows else None


def write(root: Path, rel: str, text: str) -> None:
    p = root / rel
    p.parent.mkdir(parents=True, exist_ok=True)
    p.write_text(text, encoding="utf-8")


def record_for(rel: str, overview: str = "") -> FileRecord:
    return FileRecord(
        path=rel,
        filename=rel.rsplit("/", 1)[-1],
        language="python",
        overview=overview,
        functions={"main": {"signature": "main()", "doc": "", "line": 1}},
    )


def document(
    db: Database, ledger: Ledger, guard: PathGuard, rel: str, overview: str = ""
) -> FileContent:
    """The worker's path for one file: enqueue, claim, document, commit."""
    content = guard.read(rel)
    ledger.enqueue([Change(rel, content.sha, content.size, content.mtime_ns)], source="test")
    assert claim(ledger, rel, content.sha, pid=os.getpid())
    assert commit_job(
        db,
        dataset=DATASET,
        task_sha=content.sha,
        record=record_for(rel, overview),
        content=content,
        commit=None,
    )
    return content


def fts(db: Database, match: str) -> list[str]:
    return [
        r["filepath"]
        for r in db.query(
            "SELECT f.filepath FROM files_fts JOIN files f ON f.id = files_fts.rowid "
            "WHERE files_fts MATCH ? ORDER BY f.filepath",
            (match,),
        )
    ]
