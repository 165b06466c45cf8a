"""Documentation rows: written with their job in one transaction, FTS5 kept in step."""

from __future__ import annotations

import json
import os
import sqlite3

import pytest
import zstandard

from cq_lsp.documenters.records import RECORD_FIELDS
from cq_lsp.store.db import Database
from cq_lsp.store.documentation import file_count, get_record
from cq_lsp.store.ledger import Change, Ledger
from cq_lsp.store.rows import JSON_COLUMNS
from cq_lsp.worktree.guard import PathGuard
from cq_lsp.worktree.project import Project
from tests.store.conftest import DATASET, SHA_B, document, fts, job_row, record_for, write
from tests.store_helpers import claim, commit_job, forget_missing


def test_commit_job_writes_documentation_and_ledger_together(
    project: Project, ledger: Ledger, db: Database, guard: PathGuard
) -> None:
    content = guard.read("a.py")
    ledger.enqueue([Change("a.py", content.sha)], source="cli")
    assert claim(ledger, "a.py", content.sha, pid=1)
    rec = record_for("a.py", overview="Sets A.")
    assert commit_job(
        db, dataset=DATASET, task_sha=content.sha, record=rec, content=content, commit="c0ffee"
    )
    row = job_row(db, "a.py")
    assert row is not None
    assert (row["state"], row["sha"], row["size"], row["error"]) == ("done", content.sha, 6, None)
    assert row["finished_at"] is not None
    got = get_record(db, "a.py")
    assert got is not None
    assert got["path"] == "a.py" and got["filename"] == "a.py"
    assert got["overview"] == "Sets A."
    assert got["content_sha"] == content.sha
    assert got["documented_at_commit"] == "c0ffee"
    assert got["functions"] == {"main": {"signature": "main()", "doc": "", "line": 1}}
    assert got["dependencies"] == [] and got["other_notes"] == []
    assert got["processor"] == "static" and got["dataset_id"] == DATASET
    assert ledger.counters() == {"documenter_calls": 1}
    # The text is stored once, compressed in `contents`; code-query's column stays empty.
    assert db.query("SELECT full_content FROM files")[0]["full_content"] is None
    # Read as docs/architecture.md tells code-query's users to, with zstandard alone: one frame,
    # the symbols' details, then the FTS words, then the text.
    row = db.query("SELECT z, words_at, text_at FROM contents")[0]
    frame = zstandard.decompress(row["z"])
    assert frame[row["text_at"] :].decode() == "A = 1\n"
    assert json.loads(frame[: row["words_at"]]) == [["main()", ""]]
    assert "main" in frame[row["words_at"] : row["text_at"]].decode().split()


def test_commit_job_superseded_while_running_writes_nothing(
    project: Project, ledger: Ledger, db: Database, guard: PathGuard
) -> None:
    content = guard.read("a.py")
    ledger.enqueue([Change("a.py", content.sha)], source="cli")
    assert claim(ledger, "a.py", content.sha, pid=1)
    # The file changes while the worker documents the old content.
    ledger.enqueue([Change("a.py", SHA_B)], source="save")
    assert not commit_job(
        db,
        dataset=DATASET,
        task_sha=content.sha,
        record=record_for("a.py"),
        content=content,
        commit=None,
    )
    assert get_record(db, "a.py") is None
    assert file_count(db) == 0
    row = job_row(db, "a.py")
    assert row is not None and (row["state"], row["sha"]) == ("queued", SHA_B)
    assert ledger.counters() == {}
    # Removed while running: also nothing written.
    assert claim(ledger, "a.py", SHA_B, pid=1)
    ledger.remove(["a.py"], source="cli")
    assert not commit_job(
        db, dataset=DATASET, task_sha=SHA_B, record=record_for("a.py"), content=content, commit=None
    )
    assert file_count(db) == 0 and job_row(db, "a.py") is None


def test_commit_job_is_atomic_when_the_transaction_fails(
    project: Project, ledger: Ledger, db: Database, guard: PathGuard
) -> None:
    """A failure inside the transaction leaves neither the documentation nor 'done' behind."""
    content = guard.read("a.py")
    ledger.enqueue([Change("a.py", content.sha)], source="cli")
    assert claim(ledger, "a.py", content.sha, pid=1)
    # A record the JSON encoder cannot store fails before anything is written.
    bad = record_for("a.py")
    bad.constants = {"X": object()}
    with pytest.raises(TypeError):
        commit_job(
            db, dataset=DATASET, task_sha=content.sha, record=bad, content=content, commit=None
        )
    assert file_count(db) == 0
    # SQLite itself refuses the ledger update, after the documentation row (and its FTS
    # entries) were written in the same transaction: all of it is rolled back.
    db.conn().execute(
        "CREATE TEMP TRIGGER refuse_done BEFORE UPDATE OF state ON jobs "
        "WHEN new.state = 'done' BEGIN SELECT RAISE(ABORT, 'disk says no'); END"
    )
    with pytest.raises(sqlite3.IntegrityError, match="disk says no"):
        commit_job(
            db,
            dataset=DATASET,
            task_sha=content.sha,
            record=record_for("a.py", overview="Never stored."),
            content=content,
            commit=None,
        )
    assert file_count(db) == 0
    assert fts(db, "stored") == []
    row = job_row(db, "a.py")
    assert row is not None and row["state"] == "running"
    assert ledger.counters() == {}
    db.conn().execute("DROP TRIGGER temp.refuse_done")
    # The connection is usable again (the transaction was rolled back).
    assert commit_job(
        db,
        dataset=DATASET,
        task_sha=content.sha,
        record=record_for("a.py"),
        content=content,
        commit=None,
    )


def test_forget_missing_only_for_current_job(
    ledger: Ledger, db: Database, guard: PathGuard
) -> None:
    content = document(db, ledger, guard, "a.py")
    assert not forget_missing(db, "a.py", SHA_B)  # a stale task
    assert get_record(db, "a.py") is not None
    assert forget_missing(db, "a.py", content.sha)
    assert get_record(db, "a.py") is None and job_row(db, "a.py") is None
    assert not forget_missing(db, "a.py", content.sha)


def test_fts_follows_updates_and_deletes(
    project: Project, ledger: Ledger, db: Database, guard: PathGuard
) -> None:
    """code-query's stale-trigger bug: after an update, the old words must not match."""
    write(project.root, "doc.py", "# alphaword\n")
    document(db, ledger, guard, "doc.py", overview="first alphaword")
    assert fts(db, "alphaword") == ["doc.py"]
    assert fts(db, "betaword") == []
    write(project.root, "doc.py", "# betaword\n")
    document(db, ledger, guard, "doc.py", overview="second betaword")
    assert fts(db, "alphaword") == []
    assert fts(db, "betaword") == ["doc.py"]
    assert fts(db, "overview:second") == ["doc.py"]
    assert fts(db, "overview:first") == []
    assert file_count(db) == 1
    # FTS5's own integrity check compares the index with the content table.
    db.conn().execute("INSERT INTO files_fts (files_fts, rank) VALUES ('integrity-check', 1)")
    ledger.remove(["doc.py"], source="cli")
    assert fts(db, "betaword") == []
    assert fts(db, "second") == []
    db.conn().execute("INSERT INTO files_fts (files_fts, rank) VALUES ('integrity-check', 1)")


def test_fts_camel_case_words_are_searchable(
    project: Project, ledger: Ledger, db: Database, guard: PathGuard
) -> None:
    write(project.root, "bill.py", "def parseInvoice(x):\n    return x\n")
    document(db, ledger, guard, "bill.py")
    assert fts(db, "invoice") == ["bill.py"]
    assert fts(db, "symbols:parse") == ["bill.py"]


def test_non_utf8_path_through_ledger_and_index(
    project: Project, ledger: Ledger, db: Database, guard: PathGuard
) -> None:
    raw_name = b"caf\xe9.py"
    with open(os.path.join(os.fsencode(project.root), raw_name), "wb") as fh:
        fh.write(b"latin1word = 1\n")
    rel = guard.to_rel(raw_name)
    content = document(db, ledger, guard, rel)
    row = job_row(db, rel)
    assert row is not None
    assert row["path"] == "caf\\xe9.py" and row["path_bytes"] == raw_name
    assert row["state"] == "done" and row["sha"] == content.sha
    got = get_record(db, rel)
    assert got is not None and got["path"] == "caf\\xe9.py"
    assert got["filename"] == "caf\\xe9.py"  # the documenter's filename is stored the same way
    assert ledger.job(rel)["state"] == "done"  # type: ignore[index]
    # Recovery hands the worker the real name back.
    ledger.enqueue([Change(rel, SHA_B)], source="save")
    assert ledger.requeue_interrupted() == [(rel, SHA_B)]
    assert os.fsencode(ledger.requeue_interrupted()[0][0]) == raw_name
    # And deleting it by its real name removes everything.
    assert ledger.enqueue([Change(rel, None)], source="hook").removed == 1
    assert get_record(db, rel) is None and job_row(db, rel) is None


def test_the_json_columns_are_the_record_fields_but_its_two_strings() -> None:
    # rows.py keeps its own list: the record's module pulls in attrs, which `cq-lsp search`
    # must not pay for.
    assert tuple(f for f in RECORD_FIELDS if f not in ("overview", "ddd_context")) == JSON_COLUMNS
