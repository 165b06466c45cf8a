"""Writing and reading documentation rows in index.db (the ``files`` table and its FTS5 index)."""

from __future__ import annotations

import json
import logging
import sqlite3
import time
from typing import Any

from cq_lsp.documenters.records import FileRecord, derive_symbols, symbol_names
from cq_lsp.store.db import Database, truncate_wal
from cq_lsp.store.identifiers import content_words, file_role, file_stem, symbol_words
from cq_lsp.store.ledger import key_of, record_history, storable
from cq_lsp.store.rows import (
    INSERT_ROLE_SQL,
    JSON_COLUMNS,
    SYMBOL_COLUMNS,
    SYMBOL_PARENT_JOIN,
    delete_files,
    detail_of,
    index_fts,
    json_text,
    kind_name,
    pack_contents,
    store_contents,
    store_symbols,
    symbol_details,
    symbol_rows,
    unindex_fts,
)
from cq_lsp.worktree.guard import FileContent

log = logging.getLogger(__name__)

# The record fields stored as JSON text: all but the two plain strings (rows.JSON_COLUMNS, kept
# there for search's imports; tests/store/test_documentation.py checks it against the record).
JSON_FIELDS = JSON_COLUMNS
LIST_FIELDS = ("dependencies", "other_notes")


class Prepared:
    """A job's row for the ``files`` table, built before the write transaction.

    Splitting identifiers and encoding JSON take about as long as the FTS insert itself; done
    inside the transaction they held index.db's write lock while the other worker waited.
    """

    __slots__ = (
        "contents",
        "key",
        "mtime_ns",
        "role",
        "size",
        "symbols",
        "task_sha",
        "text",
        "values",
        "words",
    )

    def __init__(
        self,
        key: str,
        task_sha: str,
        values: dict[str, Any],
        size: int,
        mtime_ns: int,
        symbols: list[tuple[Any, ...]],
        details: list[list[str]],
        role: tuple[str, str],
        text: str,
        words: str,
    ) -> None:
        self.key = key
        # The text and words for FTS5, and compressed with the symbols' details for `contents`
        # here, outside the lock.
        self.text = text
        self.words = words
        self.contents = pack_contents(text, words, details)
        self.task_sha = task_sha
        self.values = values
        self.size = size
        self.mtime_ns = mtime_ns
        # symbols rows without their file id (known only inside the transaction), and the role.
        self.symbols = symbols
        self.role = role


def prepare(
    *,
    dataset: str,
    task_sha: str,
    record: FileRecord,
    content: FileContent,
    commit: str | None,
) -> Prepared:
    key, _ = key_of(record.path)
    defined = derive_symbols(record)
    role = file_role(key, content.text)
    names = symbol_names(record) + [str(s.get("name") or "") for s in defined]
    # A data file's camelCase-looking runs (base64, path data) are not words anyone searches.
    words = "" if role == "data" else content_words(content.text)
    symbols = symbol_words(n for n in names if n) + " " + words
    values: dict[str, Any] = {
        "dataset_id": dataset,
        "filepath": key,
        "filename": record.filename,
        "overview": record.overview,
        "ddd_context": record.ddd_context,
        **{f: json_text(getattr(record, f)) for f in JSON_FIELDS},
        "documented_at_commit": commit,
        "documented_at": time.strftime("%Y-%m-%d %H:%M:%S", time.gmtime()),
        # The text goes to `contents` (rows.store_contents); the column stays for code-query's
        # readers, empty (docs/architecture.md, "Contracts").
        "full_content": None,
        "language": record.language,
        "content_sha": content.sha,
        "processor": record.processor,
        # In `contents` with the text, compressed: only FTS5 reads them.
        "symbols": None,
    }
    # Documenters repeat a non-UTF-8 file name in filename and free text.
    values = {k: storable(v) if isinstance(v, str) else v for k, v in values.items()}
    rows, details = symbol_rows(0, defined)
    return Prepared(
        key,
        task_sha,
        values,
        content.size,
        content.mtime_ns,
        [r[1:] for r in rows],
        details,
        (role, file_stem(key)),
        storable(content.text),
        storable(symbols),
    )


# The files columns a job writes, in the order of the schema (named parameters of prepare()).
ROW_COLUMNS = (
    "dataset_id",
    "filepath",
    "filename",
    "overview",
    "ddd_context",
    *JSON_FIELDS,
    "documented_at_commit",
    "documented_at",
    "full_content",
    "language",
    "content_sha",
    "processor",
    "symbols",
)
_KEEP = ("dataset_id", "filepath")
_UPSERT_SQL = (
    f"INSERT INTO files ({', '.join(ROW_COLUMNS)}) "
    f"VALUES ({', '.join(':' + c for c in ROW_COLUMNS)}) "
    "ON CONFLICT(dataset_id, filepath) DO UPDATE SET "
    + ", ".join(f"{c}=excluded.{c}" for c in ROW_COLUMNS if c not in _KEEP)
)


def store(conn: sqlite3.Connection, job: Prepared) -> bool:
    """Inside a write transaction: store the documentation and mark the job done, together.

    Returns False (and writes nothing) when the job was superseded while it ran: a newer sha was
    queued, or the path was removed.
    """
    row = conn.execute("SELECT sha, state FROM jobs WHERE path = ?", (job.key,)).fetchone()
    if row is None or row["sha"] != job.task_sha or row["state"] != "running":
        return False
    # A renamed dataset must not leave a second row for the same file.
    delete_files(conn, "filepath = ? AND dataset_id != ?", (job.key, job.values["dataset_id"]))
    before = conn.execute(
        "SELECT id FROM files WHERE dataset_id = ? AND filepath = ?",
        (job.values["dataset_id"], job.key),
    ).fetchone()
    if before is not None:
        unindex_fts(conn, before[0])  # with the values it was indexed with, before they change
    conn.execute(_UPSERT_SQL, job.values)
    file_id = conn.execute(
        "SELECT id FROM files WHERE dataset_id = ? AND filepath = ?",
        (job.values["dataset_id"], job.key),
    ).fetchone()[0]
    store_contents(conn, file_id, job.contents)
    index_fts(conn, file_id, (job.text, job.words))
    # The file's definitions are replaced with it, in the same transaction (never half-updated).
    store_symbols(conn, file_id, job.symbols)
    conn.execute(INSERT_ROLE_SQL, (file_id, *job.role))
    conn.execute(
        "UPDATE jobs SET state='done', sha=?, size=?, mtime_ns=?, error=NULL, reason=NULL, "
        "finished_at=? WHERE path=?",
        (job.values["content_sha"], job.size, job.mtime_ns, time.time(), job.key),
    )
    return True


def forget_missing_in(conn: sqlite3.Connection, rel: str, task_sha: str) -> bool:
    """Inside a write transaction: a file deleted since it was queued leaves the index, if the
    job is still the current one for its path."""
    key, _ = key_of(rel)
    row = conn.execute("SELECT sha FROM jobs WHERE path = ?", (key,)).fetchone()
    if row is None or row["sha"] != task_sha:
        return False
    delete_files(conn, "filepath = ?", (key,))
    conn.execute("DELETE FROM jobs WHERE path = ?", (key,))
    record_history(conn, "remove-deleted", 1, key, "worker")
    return True


def get_record(db: Database, rel: str) -> dict[str, Any] | None:
    """One file's documentation as ``show --json`` returns it (docs/architecture.md field list)."""
    rows = db.query("SELECT * FROM files WHERE filepath = ?", (key_of(rel)[0],))
    if not rows:
        return None
    r = rows[0]
    details = symbol_details(db.conn(), [r["id"]]).get(r["id"], [])
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
            # Every definition, in file order, as `cq-lsp symbol` finds them (the contract's
            # "symbols": each with its line).
            "symbols": [
                {
                    "name": s["name"],
                    "kind": kind_name(s["kind"]),
                    "line": s["line"],
                    "container": s["container"],
                    **dict(zip(("signature", "doc"), detail_of(details, s["seq"]), strict=True)),
                }
                for s in db.query(
                    f"SELECT {SYMBOL_COLUMNS} FROM symbols s {SYMBOL_PARENT_JOIN} "
                    "WHERE s.file_id = ? ORDER BY s.line, s.seq",
                    (r["id"],),
                )
            ],
        }
    )
    return out


def file_count(db: Database) -> int:
    return int(db.query("SELECT COUNT(*) AS n FROM files")[0]["n"])


#: Free pages above this share of index.db are given back to the file system after bulk work.
VACUUM_FREE_SHARE = 0.1


def optimize(db: Database) -> None:
    """Merge FTS5 segments after bulk indexing (re-indexing leaves delete markers behind), then
    give free pages back: a first index leaves ~18% of index.db free (FTS5 segment merges,
    superseded rows), which a VACUUM of a few hundred milliseconds returns."""
    with db.tx() as conn:
        conn.execute("INSERT INTO files_fts (files_fts) VALUES ('optimize')")
    conn = db.conn()
    free = conn.execute("PRAGMA freelist_count").fetchone()[0]
    pages = conn.execute("PRAGMA page_count").fetchone()[0]
    if pages and free / pages > VACUUM_FREE_SHARE:
        try:
            conn.execute("VACUUM")  # outside a transaction; waits like any writer
            conn.execute("PRAGMA wal_checkpoint(TRUNCATE)")
        except sqlite3.OperationalError as exc:  # busy: a worker is writing; next time
            log.info("VACUUM of %s skipped: %s", db.path, exc)
    truncate_wal(db.path)
