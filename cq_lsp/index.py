"""Writing and reading documentation rows in index.db (the ``files`` table and its FTS5 index)."""

from __future__ import annotations

import json
import sqlite3
import time
from typing import Any

from cq_lsp.db import Database
from cq_lsp.identifiers import content_words, symbol_words
from cq_lsp.ledger import bump_counter, key_of, record_history, storable
from cq_lsp.pathguard import FileContent
from cq_lsp.records import RECORD_FIELDS, FileRecord, symbol_names

# The record fields stored as JSON text (all but the two plain strings).
JSON_FIELDS = tuple(f for f in RECORD_FIELDS if f not in ("overview", "ddd_context"))
LIST_FIELDS = ("dependencies", "other_notes")


def _upsert(
    conn: sqlite3.Connection,
    dataset: str,
    record: FileRecord,
    content: FileContent,
    commit: str | None,
) -> None:
    key, _ = key_of(record.path)
    symbols = symbol_words(symbol_names(record)) + " " + content_words(content.text)
    values: dict[str, Any] = {
        "dataset_id": dataset,
        "filepath": key,
        "filename": record.filename,
        "overview": record.overview,
        "ddd_context": record.ddd_context,
        **{f: json.dumps(getattr(record, f), ensure_ascii=False) for f in JSON_FIELDS},
        "documented_at_commit": commit,
        "documented_at": time.strftime("%Y-%m-%d %H:%M:%S", time.gmtime()),
        "full_content": content.text,
        "language": record.language,
        "content_sha": content.sha,
        "processor": record.processor,
        "symbols": symbols,
    }
    # Documenters repeat a non-UTF-8 file name in filename and free text.
    values = {k: storable(v) if isinstance(v, str) else v for k, v in values.items()}
    # A renamed dataset must not leave a second row for the same file.
    conn.execute("DELETE FROM files WHERE filepath = ? AND dataset_id != ?", (key, dataset))
    cols = ", ".join(values)
    marks = ", ".join(f":{c}" for c in values)
    updates = ", ".join(f"{c}=excluded.{c}" for c in values if c not in ("dataset_id", "filepath"))
    # ON CONFLICT ... DO UPDATE fires the update trigger; INSERT OR REPLACE would not.
    conn.execute(
        f"INSERT INTO files ({cols}) VALUES ({marks}) "
        f"ON CONFLICT(dataset_id, filepath) DO UPDATE SET {updates}",
        values,
    )


def commit_job(
    db: Database,
    *,
    dataset: str,
    task_sha: str,
    record: FileRecord,
    content: FileContent,
    commit: str | None,
) -> bool:
    """Store a job's documentation and mark it done in ONE transaction.

    Returns False (and writes nothing) when the job was superseded while it ran: a newer sha was
    queued, or the path was removed.
    """
    key, _ = key_of(record.path)
    with db.tx() as conn:
        row = conn.execute("SELECT sha, state FROM jobs WHERE path = ?", (key,)).fetchone()
        if row is None or row["sha"] != task_sha or row["state"] != "running":
            return False
        _upsert(conn, dataset, record, content, commit)
        conn.execute(
            "UPDATE jobs SET state='done', sha=?, size=?, mtime_ns=?, error=NULL, reason=NULL, "
            "finished_at=? WHERE path=?",
            (content.sha, content.size, content.mtime_ns, time.time(), key),
        )
        bump_counter(conn, "documenter_calls")
    return True


def forget_missing(db: Database, rel: str, task_sha: str) -> bool:
    """A file deleted between enqueue and processing leaves the index (if the job is current)."""
    key, _ = key_of(rel)
    with db.tx() as conn:
        row = conn.execute("SELECT sha FROM jobs WHERE path = ?", (key,)).fetchone()
        if row is None or row["sha"] != task_sha:
            return False
        conn.execute("DELETE FROM files WHERE filepath = ?", (key,))
        conn.execute("DELETE FROM jobs WHERE path = ?", (key,))
        record_history(conn, "remove-deleted", 1, key, "worker")
    return True


def get_record(db: Database, rel: str) -> dict[str, Any] | None:
    """One file's documentation as ``show --json`` returns it (DESIGN.md field list)."""
    rows = db.query("SELECT * FROM files WHERE filepath = ?", (key_of(rel)[0],))
    if not rows:
        return None
    r = rows[0]
    out: dict[str, Any] = {
        "path": r["filepath"],
        "filename": r["filename"],
        "language": r["language"],
        "overview": r["overview"],
    }
    for f in JSON_FIELDS:
        try:
            out[f] = json.loads(r[f]) if r[f] else ([] if f in LIST_FIELDS else {})
        except json.JSONDecodeError:
            out[f] = r[f]
    out.update(
        {
            "ddd_context": r["ddd_context"],
            "content_sha": r["content_sha"],
            "documented_at_commit": r["documented_at_commit"],
            "documented_at": r["documented_at"],
            "processor": r["processor"],
            "dataset_id": r["dataset_id"],
        }
    )
    return out


def file_count(db: Database) -> int:
    return int(db.query("SELECT COUNT(*) AS n FROM files")[0]["n"])


def optimize(db: Database) -> None:
    """Merge FTS5 segments after bulk indexing (re-indexing leaves delete markers behind)."""
    with db.tx() as conn:
        conn.execute("INSERT INTO files_fts (files_fts) VALUES ('optimize')")
