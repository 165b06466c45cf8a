"""index.db: one context manager owns connection, transaction and lock (after huey's ``db()``).

index.db holds the documentation, its FTS5 index, the ledger of jobs and the audit history. It is a
cache of the repository: when SQLite says it is corrupt, it is moved aside and rebuilt, and the
caller is told so (``Database.rebuilt_from``).
"""

from __future__ import annotations

import json
import logging
import os
import sqlite3
import stat
import threading
import time
from collections.abc import Iterator
from contextlib import contextmanager
from pathlib import Path
from typing import Any

from cq_lsp.errors import IndexError_
from cq_lsp.store.codec import decode, inflate
from cq_lsp.store.identifiers import file_role, file_stem
from cq_lsp.store.rows import (
    FTS_COLUMNS,
    INSERT_ROLE_SQL,
    JSON_COLUMNS,
    index_fts,
    json_text,
    pack_contents,
    store_contents,
    store_symbols,
    symbol_rows,
)

log = logging.getLogger(__name__)

# 2: index on files(filepath); 3: symbols and file_roles tables, porter-stemmed files_fts;
# 4: the text compressed in `contents`, contentless files_fts (half the index's size);
# 5: symbols clustered by file (WITHOUT ROWID), norm stored only where lower(name) is not it,
# kinds and containers as small integers, each symbol's signature and doc in its file's
# `contents.defs`, compact JSON in files (with 2 KB pages and level-6 Zstandard: 38.0 → 32.2 MB
# on CPython's Lib/, 1.20 → 1.02 × its text); 6: a file's details, words and text in one frame
# of `contents` (rows.Contents: 32.2 → 31.4 MB on CPython's Lib/, 0.99 × its text)
SCHEMA_VERSION = 6


# How long a writer waits for another process's transaction before the user hears about it
# (CQ_LSP_BUSY_TIMEOUT_S overrides it: a hook may rather fail fast, a test need not wait 30 s).
def _busy_timeout() -> float:
    try:
        value = float(os.environ.get("CQ_LSP_BUSY_TIMEOUT_S") or 30.0)
    except ValueError:
        return 30.0
    return value if 0 < value <= 3600 else 30.0


BUSY_TIMEOUT_S = _busy_timeout()
# Polling steps while another writer holds index.db (see Database._begin).
WAIT_STEP_MIN_S = 0.0002
WAIT_STEP_MAX_S = 0.002

#: A short-lived process (the CLI) may read index.db on a disk too full for SQLite's ``-shm``
#: file by holding it exclusively for its few milliseconds (SQLite then keeps the WAL index in
#: its own memory). A long-lived one (worker, server) must not: it would lock everyone else out.
READ_EXCLUSIVE_WHEN_FULL = False
#: Page size of a new index.db: on CPython's Lib/ 2 KB pages left 0.6 MB (2%) less unused than
#: 4 KB ones in the tails of large rows (texts, JSON columns), at the same search latency; 1 KB
#: pages saved less (more page headers).
PAGE_SIZE = 2048
# Below this many free bytes a "disk I/O error" of SQLite is taken for a full disk.
FULL_BELOW_BYTES = 256 * 1024
# A 0-byte index.db younger than this may be one another process has just created: we look
# again after this long before calling it empty.
EMPTY_GRACE_S = 0.2

_SCHEMA = f"""
CREATE TABLE IF NOT EXISTS meta (key TEXT PRIMARY KEY, value TEXT);

-- code-query's columns first, so its users can read this index; ours follow.
CREATE TABLE IF NOT EXISTS files (
    id INTEGER PRIMARY KEY,
    dataset_id TEXT NOT NULL,
    filepath TEXT NOT NULL,
    filename TEXT,
    overview TEXT,
    ddd_context TEXT,
    functions TEXT,
    exports TEXT,
    imports TEXT,
    types_interfaces_classes TEXT,
    constants TEXT,
    dependencies TEXT,
    other_notes TEXT,
    documented_at_commit TEXT,
    documented_at TIMESTAMP DEFAULT CURRENT_TIMESTAMP,
    full_content TEXT,
    language TEXT,
    content_sha TEXT,
    processor TEXT,
    symbols TEXT,
    UNIQUE (dataset_id, filepath)
);

-- Lookups by path alone (show, forget, rename of the dataset) must not scan the table.
CREATE INDEX IF NOT EXISTS files_filepath ON files (filepath);

-- Each file's text, once, compressed in one Zstandard frame (rows.Contents) after two parts
-- that start at byte offsets `words_at` and `text_at` of the inflated frame:
-- the [signature, doc] of each of the file's symbols rows, in `seq` order, as compact JSON
-- (3.0 MB in the rows on CPython's Lib/, read only for the few definitions an answer shows),
-- then the files_fts `symbols` column (names and their split words, read by FTS5 alone).
-- files.full_content and files.symbols stay NULL (see docs/architecture.md, "Contracts").
-- Stored in full, the text alone was as big as the checkout and .code-query/ 2.0-3.0x its size.
CREATE TABLE IF NOT EXISTS contents (
    file_id INTEGER PRIMARY KEY, z BLOB NOT NULL, words_at INTEGER NOT NULL,
    text_at INTEGER NOT NULL
);

-- Contentless: snippets are made in Python from `contents` (search.py), so FTS5 never reads a
-- column back. detail=full stays: on a contentless table with detail=column SQLite's bm25()
-- returns 0 for every row (it has no positions and no text to count instances in), and an
-- external-content one tokenizes each matching row's text again at query time.
-- Rows are written and deleted by index_fts/delete_files below, which hand FTS5 the exact
-- values it was given (a contentless table cannot look them up).
CREATE VIRTUAL TABLE IF NOT EXISTS files_fts USING fts5(
    {", ".join(FTS_COLUMNS)},
    content='',
    tokenize="porter unicode61 remove_diacritics 2"
);

-- Every definition of a documented file, a row each; written and deleted with its file.
-- Clustered by (file_id, seq): a file's rows are deleted and listed (show) by its key, with no
-- separate index on file_id (0.7 MB on CPython's Lib/) nor a rowid. `seq`: the definition's
-- place in its file's list, and in its details in `contents`.
-- `norm` (identifiers.normalize(name): any spelling finds it) is NULL where it equals
-- lower(name) — a third of the names —, and lookups go by SYMBOL_NORM, which symbols_norm
-- indexes. `kind`: its place in KINDS (untyped: a kind not listed there is stored as its text).
-- `parent`: the seq of the file's top-level symbol named as the container (Class for
-- Class.method), `container` NULL then; the container's text where the file does not define it.
CREATE TABLE IF NOT EXISTS symbols (
    file_id INTEGER NOT NULL,
    seq INTEGER NOT NULL,
    name TEXT NOT NULL,
    norm TEXT,
    kind NOT NULL,
    line INTEGER NOT NULL,
    container TEXT,
    parent INTEGER,
    PRIMARY KEY (file_id, seq)
) WITHOUT ROWID;
CREATE INDEX IF NOT EXISTS symbols_norm ON symbols (coalesce(norm, lower(name)));

-- What kind of file each documented file is (the ranking's prior) and its normalized stem.
-- Kept apart from files: a column after full_content would make every ranked row read it.
CREATE TABLE IF NOT EXISTS file_roles (
    file_id INTEGER PRIMARY KEY,
    role TEXT NOT NULL,
    stem TEXT NOT NULL
);
CREATE INDEX IF NOT EXISTS file_roles_stem ON file_roles (stem);

CREATE TRIGGER IF NOT EXISTS files_symbols_ad AFTER DELETE ON files BEGIN
    DELETE FROM symbols WHERE file_id = old.id;
    DELETE FROM file_roles WHERE file_id = old.id;
    DELETE FROM contents WHERE file_id = old.id;
END;

-- The ledger: the truth about every job (principle 1). Huey only carries (path, sha).
CREATE TABLE IF NOT EXISTS jobs (
    path TEXT PRIMARY KEY,
    path_bytes BLOB,           -- the raw name when it is not valid UTF-8
    sha TEXT,
    state TEXT NOT NULL,       -- queued | running | done | failed | skipped
    attempts INTEGER NOT NULL DEFAULT 0,
    error TEXT,                -- last error, or the guard's refusal for skipped jobs
    reason TEXT,               -- short code of a refusal (binary, too_large, ...)
    source TEXT,               -- who queued it: cli, save, hook, recovery
    queued_at REAL,
    started_at REAL,
    finished_at REAL,
    not_before REAL,           -- delayed jobs (hooks' delay_seconds, saves' debounce)
    size INTEGER,
    mtime_ns INTEGER,
    worker_pid INTEGER
);
CREATE INDEX IF NOT EXISTS jobs_state ON jobs (state, queued_at);

-- Audit trail: operations and counts, never file contents.
CREATE TABLE IF NOT EXISTS history (
    id INTEGER PRIMARY KEY,
    at REAL NOT NULL,
    op TEXT NOT NULL,
    count INTEGER NOT NULL DEFAULT 0,
    detail TEXT,
    source TEXT
);

CREATE TABLE IF NOT EXISTS counters (name TEXT PRIMARY KEY, value INTEGER NOT NULL DEFAULT 0);
"""


def _is_busy(exc: sqlite3.Error) -> bool:
    text = str(exc)
    return "locked" in text or "busy" in text


def _unwritable(path: Path) -> str | None:
    """Why ``path`` (or its directory, where SQLite keeps -wal and -shm) cannot be written."""
    folder = path.parent
    try:
        if os.statvfs(folder).f_flag & os.ST_RDONLY:
            return f"{folder} is on a read-only file system"
    except (OSError, AttributeError):
        pass
    for target in (folder, path):
        if target.exists() and not os.access(target, os.W_OK):
            return f"{target} is not writable (permissions or an immutable attribute)"
    return None


def _is_storage(exc: sqlite3.Error) -> bool:
    """Errors of the storage, not of the statement: the disk, permissions, locks, I/O."""
    text = str(exc).lower()
    return any(
        s in text
        for s in ("full", "readonly", "read-only", "locked", "busy", "disk i/o", "unable to open")
    )


def _disk_full(folder: Path) -> bool:
    try:
        st = os.statvfs(folder)
    except (OSError, AttributeError):
        return False
    return st.f_bavail * st.f_frsize < FULL_BELOW_BYTES


def _no_room_for_shm(exc: sqlite3.Error, path: Path) -> bool:
    """SQLite could not create or grow ``index.db-shm`` because the disk is full."""
    name = getattr(exc, "sqlite_errorname", "")
    return name.startswith("SQLITE_IOERR_SHM") or (
        "disk i/o" in str(exc).lower() and _disk_full(path.parent)
    )


def _is_corruption(exc: sqlite3.DatabaseError) -> bool:
    text = str(exc).lower()
    return any(
        s in text
        for s in (
            "malformed",
            "not a database",
            "file is encrypted",
            "database disk image",
            "no such table: files_fts",
        )
    )


#: Connections a forked child inherited from its parent: never used, never closed by the child.
_INHERITED: list[object] = []


class Database:
    """index.db with one connection per thread and short IMMEDIATE write transactions.

    ``with db.tx() as conn:`` begins, commits on success and rolls back on any exception; the
    per-thread lock keeps one thread from nesting transactions on its connection.
    """

    def __init__(self, path: Path, *, readonly: bool = False) -> None:
        self.path = Path(path)
        self.readonly = readonly
        self.rebuilt_from: Path | None = None
        self._local = threading.local()
        self._conns: list[sqlite3.Connection] = []
        self._conns_lock = threading.Lock()
        if not readonly:
            self._check_file()
            self._ensure_schema()

    # -- connections -------------------------------------------------------------------------

    def _connect(self) -> sqlite3.Connection:
        if self.readonly:
            uri = f"{self.path.resolve().as_uri()}?mode=ro"
            conn = sqlite3.connect(
                uri, uri=True, timeout=BUSY_TIMEOUT_S, isolation_level=None, check_same_thread=False
            )
        else:
            conn = self._open_rw()
            try:
                self._ensure_wal(conn)
            except sqlite3.OperationalError as exc:
                conn.close()
                conn = self._read_fallback(exc)
            # NORMAL is durable across process crashes in WAL mode; only power loss can drop the
            # last commits, and the ledger re-derives those from the work tree.
            conn.execute("PRAGMA synchronous=NORMAL")
        conn.execute(f"PRAGMA busy_timeout={int(BUSY_TIMEOUT_S * 1000)}")
        conn.row_factory = sqlite3.Row
        with self._conns_lock:
            self._conns.append(conn)
        return conn

    def _open_rw(self) -> sqlite3.Connection:
        return sqlite3.connect(
            str(self.path),
            timeout=BUSY_TIMEOUT_S,
            isolation_level=None,
            check_same_thread=False,
        )

    def _read_fallback(self, exc: sqlite3.OperationalError) -> sqlite3.Connection:
        """A connection that can read index.db where a normal one cannot open it, or ``exc``.

        Full disk: no room for ``-shm``; in EXCLUSIVE locking mode SQLite keeps the WAL index
        in memory. Read-only file system (no ``-wal``/``-shm`` to open): read-only, and
        immutable if need be — nothing can change a file on a read-only mount. Writes through
        either fail and are reported as usual (full, read-only).
        """
        if not READ_EXCLUSIVE_WHEN_FULL:
            raise exc
        if _no_room_for_shm(exc, self.path):
            conn = self._open_rw()
            conn.execute("PRAGMA locking_mode=EXCLUSIVE")
            log.warning("the disk holding %s is full: index.db is read only", self.path.parent)
            return conn
        if _unwritable(self.path) is None:
            raise exc
        base = self.path.resolve().as_uri()
        for uri in (f"{base}?mode=ro", f"{base}?immutable=1"):
            conn = sqlite3.connect(
                uri, uri=True, timeout=BUSY_TIMEOUT_S, isolation_level=None, check_same_thread=False
            )
            try:
                conn.execute("SELECT 1 FROM sqlite_master LIMIT 1").fetchall()
                return conn
            except sqlite3.Error:
                conn.close()
        raise exc

    def conn(self) -> sqlite3.Connection:
        c = getattr(self._local, "conn", None)
        if c is None:
            c = self._local.conn = self._connect()
        return c

    def close(self) -> None:
        with self._conns_lock:
            for c in self._conns:
                try:
                    c.close()
                except sqlite3.Error:
                    pass
            self._conns.clear()
        self._local = threading.local()

    def after_fork(self) -> None:
        """In a forked child: open new connections instead of the parent's copies.

        A SQLite connection must not be used on both sides of a fork. The inherited ones are
        kept referenced and never closed here: closing them could disturb the parent's locks.
        """
        _INHERITED.extend(self._conns)
        self._conns = []
        self._conns_lock = threading.Lock()
        self._local = threading.local()

    # -- transactions ------------------------------------------------------------------------

    @contextmanager
    def tx(self) -> Iterator[sqlite3.Connection]:
        """A write transaction. Waits up to BUSY_TIMEOUT_S for other writers, then says so."""
        conn = self.conn()
        self._begin(conn)
        try:
            yield conn
        except BaseException as exc:
            self._rollback(conn)
            if isinstance(exc, sqlite3.OperationalError) and _is_storage(exc):
                raise self._wrap(exc) from exc
            raise
        else:
            try:
                conn.execute("COMMIT")
            except sqlite3.Error as exc:
                self._rollback(conn)
                raise self._wrap(exc) from exc

    @staticmethod
    def _rollback(conn: sqlite3.Connection) -> None:
        # After SQLITE_FULL or an I/O error SQLite may have rolled back already; a second
        # ROLLBACK would raise and hide the error that matters.
        if conn.in_transaction:
            try:
                conn.execute("ROLLBACK")
            except sqlite3.Error:
                log.warning("rollback of %s failed", conn, exc_info=True)

    def _ensure_wal(self, conn: sqlite3.Connection) -> None:
        """Switch to WAL once; polls when another connection is mid-switch or recovering.

        Changing the journal mode needs an exclusive lock and SQLite may answer "locked" at once
        there, without its busy handler (two processes opening a new index.db together).
        """
        deadline = time.monotonic() + BUSY_TIMEOUT_S
        step = WAIT_STEP_MIN_S
        while True:
            try:
                if str(conn.execute("PRAGMA journal_mode").fetchone()[0]).lower() == "wal":
                    return
                # A new file only (a written one keeps its size; in WAL mode even VACUUM does).
                conn.execute(f"PRAGMA page_size={PAGE_SIZE}")
                conn.execute("PRAGMA journal_mode=WAL")
                return
            except sqlite3.OperationalError as exc:
                if not _is_busy(exc) or time.monotonic() > deadline:
                    raise
            time.sleep(step)
            step = min(step * 2, WAIT_STEP_MAX_S * 10)

    def _begin(self, conn: sqlite3.Connection) -> None:
        """BEGIN IMMEDIATE, waiting for another writer in steps of at most WAIT_STEP_MAX_S.

        SQLite's own busy handler sleeps 1, 2, 5, 10, 15, 20, 25 ... ms between tries, so two
        worker processes committing every few milliseconds spent a quarter of their time asleep
        while the lock was already free. The handler is off for BEGIN only (reads, and the
        statements inside the transaction, keep the full timeout) and we poll finely instead.
        """
        deadline = time.monotonic() + BUSY_TIMEOUT_S
        step = WAIT_STEP_MIN_S
        conn.execute("PRAGMA busy_timeout=0")
        try:
            while True:
                try:
                    conn.execute("BEGIN IMMEDIATE")
                    return
                except sqlite3.OperationalError as exc:
                    if not _is_busy(exc):
                        raise self._wrap(exc) from exc
                    if time.monotonic() > deadline:
                        raise IndexError_(
                            f"{self.path} stayed locked by another process for "
                            f"{BUSY_TIMEOUT_S:.0f} s",
                            hint="another program holds a long write transaction on it (a "
                            "`sqlite3` shell, a backup, a stopped cq-lsp process); end it, or "
                            "stop the worker (`cq-lsp worker stop`), then retry. No job was lost.",
                        ) from exc
                time.sleep(step)
                step = min(step * 2, WAIT_STEP_MAX_S)
        finally:
            conn.execute(f"PRAGMA busy_timeout={int(BUSY_TIMEOUT_S * 1000)}")

    def data_version(self) -> int:
        """Changes whenever another connection commits: a cheap "did anything change?"."""
        return int(self.query("PRAGMA data_version")[0][0])

    def shrink_memory(self) -> None:
        """Give this connection's page cache back (an idle worker keeps its RSS low)."""
        self.conn().execute("PRAGMA shrink_memory")

    def integrity_check(self) -> tuple[str, int]:
        """(SQLite's quick_check verdict, documented files); reads the FTS index too."""
        verdict = str(self.query("PRAGMA quick_check")[0][0])
        files = int(self.query("SELECT COUNT(*) FROM files")[0][0])
        self.query("SELECT COUNT(*) FROM files_fts")
        return verdict, files

    def query(self, sql: str, params: tuple | dict = ()) -> list[sqlite3.Row]:
        try:
            return self.conn().execute(sql, params).fetchall()
        except sqlite3.DatabaseError as exc:
            raise self._wrap(exc) from exc

    def _wrap(self, exc: sqlite3.Error) -> IndexError_:
        text = str(exc)
        if "readonly" in text or "read-only" in text or "unable to open" in text:
            why = _unwritable(self.path)
            if why is not None or "unable to open" not in text:
                return IndexError_(
                    f"{self.path} cannot be written: {why or 'read-only'} ({text})",
                    hint=f"make {self.path.parent} and the files in it writable for this user "
                    "(remount it read-write, `chattr -i`, or fix the permissions), then retry; "
                    "no job was lost: nothing new was recorded, and queued jobs stay queued",
                )
        unclear = "disk i/o" in text.lower() or "unable to open" in text
        if "full" in text or (unclear and _disk_full(self.path.parent)):
            return IndexError_(
                "the disk holding .code-query/ is full: free space, no job was lost",
                hint=f"free some space on the disk that holds {self.path.parent} "
                f"({self.path}: the disk is full; {text}), then retry: queued jobs stay queued, "
                "and a worker waits and goes on",
            )
        if _is_busy(exc):
            return IndexError_(
                f"{self.path} is locked by another process: {text}",
                hint="end the program that holds the lock, then retry; no job was lost",
            )
        return IndexError_(f"{self.path}: {text}")

    # -- schema and repair ---------------------------------------------------------------------

    def _check_file(self) -> None:
        """What SQLite would misreport: a directory in index.db's place ("unable to open"), and
        an empty index.db (silently taken for a new one, hiding that the index was lost)."""
        try:
            st = os.stat(self.path)
        except OSError:
            return  # absent (created now) or unreadable (SQLite says so)
        if stat.S_ISDIR(st.st_mode):
            raise IndexError_(
                f"{self.path} is a directory, not the index database",
                hint=f"move it out of the way (`mv {self.path} {self.path}.moved`) and run the "
                "command again: a new index.db is created and rebuilt from the work tree",
            )
        if not stat.S_ISREG(st.st_mode) or st.st_size != 0 or _unwritable(self.path):
            return
        if time.time() - st.st_mtime < EMPTY_GRACE_S:
            # Another process may have just created it: SQLite writes the header within a
            # millisecond of creating the file (our first statement sets WAL mode).
            time.sleep(EMPTY_GRACE_S)
            try:
                if os.stat(self.path).st_size != 0:
                    return
            except OSError:
                return
        if not self.path.with_name(self.path.name + "-wal").exists():
            self._rebuild(sqlite3.DatabaseError("the file is empty (0 bytes)"))

    def _ensure_schema(self) -> None:
        try:
            self._create()
        except sqlite3.DatabaseError as exc:
            if not _is_corruption(exc):
                raise self._wrap(exc) from exc
            self._rebuild(exc)

    def _create(self) -> None:
        conn = self.conn()
        row = conn.execute("PRAGMA user_version").fetchone()
        if row[0] > SCHEMA_VERSION:
            # Taken for an old one, it would be "upgraded": its FTS table dropped and rebuilt from
            # columns this version does not know.
            raise IndexError_(
                f"{self.path} was written by a newer cq-lsp (index schema {row[0]}; this "
                f"cq-lsp reads schema {SCHEMA_VERSION} and older) and was left as it is",
                hint="use the cq-lsp that wrote it (upgrade this one, e.g. `pip install -U "
                f"cq-lsp`), or move it aside (`mv {self.path} {self.path}.newer`) and run "
                "`cq-lsp index` to document the work tree again with this one",
            )
        if row[0] == SCHEMA_VERSION:
            # Touch the tables we rely on: a truncated file fails here rather than mid-job.
            conn.execute("SELECT 1 FROM files_fts LIMIT 1").fetchall()
            conn.execute("SELECT 1 FROM jobs LIMIT 1").fetchall()
            return
        with self.tx() as c:
            old = int(row[0])
            if old:
                # An older index: its FTS table had another tokenizer or kept the text itself;
                # rebuilt from files below, after the text moved to `contents`.
                # files_symbols_ad: schema 4's also removes the file's text.
                for name in ("files_ai", "files_ad", "files_au", "files_symbols_ad"):
                    c.execute(f"DROP TRIGGER IF EXISTS {name}")
                c.execute("DROP TABLE IF EXISTS files_fts")
            if 3 <= old < 5:
                # Schema 5's symbols table has another key: the rows are copied into it below.
                for name in ("symbols_name", "symbols_norm", "symbols_file"):
                    c.execute(f"DROP INDEX IF EXISTS {name}")
                c.execute("ALTER TABLE symbols RENAME TO symbols_v4")
            if 4 <= old < 6:
                # Schema 6's contents has other columns: the rows are packed into it below.
                c.execute("ALTER TABLE contents RENAME TO contents_v5")
            for stmt in _split_sql(_SCHEMA):
                c.execute(stmt)
            details: dict[int, list[list[str]]] = {}
            if old and old < 3:
                details = _backfill_symbols(c)
            if 3 <= old < 5:
                details = _move_symbols(c)
            if old:
                _pack_contents(c, old, details)
            if old and old < 5:
                _compact_json(c)
            if old:
                for (file_id,) in c.execute("SELECT id FROM files").fetchall():
                    index_fts(c, file_id)
                # One segment, as a first index leaves it (documentation.optimize): thousands of
                # one-row segments made every query several times slower.
                c.execute("INSERT INTO files_fts (files_fts) VALUES ('optimize')")
            c.execute(f"PRAGMA user_version={SCHEMA_VERSION}")
        if old:
            # The moved text left free pages behind; give them back once.
            try:
                conn.execute("VACUUM")
                conn.execute("PRAGMA wal_checkpoint(TRUNCATE)")
            except sqlite3.OperationalError as exc:  # busy: optimize() does it after next batch
                log.info("VACUUM of %s after the upgrade skipped: %s", self.path, exc)

    def _rebuild(self, exc: Exception) -> None:
        """Move a corrupt index.db aside and start empty. It is a cache: nothing is lost."""
        self.close()
        stamp = time.strftime("%Y%m%d-%H%M%S")
        aside = self.path.with_name(f"{self.path.name}.corrupt-{stamp}")
        n = 1
        while aside.exists():
            aside = self.path.with_name(f"{self.path.name}.corrupt-{stamp}-{n}")
            n += 1
        self.path.rename(aside)
        for suffix in ("-wal", "-shm"):
            side = self.path.with_name(self.path.name + suffix)
            if side.exists():
                side.rename(aside.with_name(aside.name + suffix))
        log.warning("%s was corrupt (%s); moved to %s and rebuilt", self.path, exc, aside)
        self.rebuilt_from = aside
        self._create()


def _json(value: Any) -> Any:
    try:
        return json.loads(value) if value else None
    except (TypeError, ValueError):
        return None


def _backfill_symbols(conn: sqlite3.Connection) -> dict[int, list[list[str]]]:
    """Symbols and roles of files documented before schema 3, from their stored fields; their
    details (for `contents`) by file id."""
    # Here, not at the top: the record pulls in attrs (~40 ms), which `cq-lsp search` and
    # `symbol` would pay on every start for a migration that runs once per index.
    from cq_lsp.documenters.records import FileRecord, derive_symbols

    rows = conn.execute(
        "SELECT id, filepath, filename, language, functions, types_interfaces_classes, "
        "constants, full_content FROM files"
    ).fetchall()
    by_file: dict[int, list[list[str]]] = {}
    for r in rows:
        record = FileRecord(path=r[1], filename=r[2] or "", language=r[3] or "")
        for field, value in (("functions", r[4]), ("types_interfaces_classes", r[5])):
            data = _json(value)
            if isinstance(data, dict):
                setattr(record, field, data)
        constants = _json(r[6])
        if isinstance(constants, dict):
            record.constants = constants
        rows, by_file[r[0]] = symbol_rows(r[0], derive_symbols(record))
        store_symbols(conn, r[0], [row[1:] for row in rows])
        conn.execute(INSERT_ROLE_SQL, (r[0], file_role(r[1], r[7] or ""), file_stem(r[1])))
    return by_file


def truncate_wal(path: Path, *, vacuum_free_share: float | None = None) -> None:
    """Checkpoint the SQLite database at ``path`` (index.db, queue.db) and truncate its -wal.

    SQLite reuses a -wal file from its start but never shrinks it while a connection is open:
    after a first index, queue.db-wal alone held 0.3-0.6 MB (a third of the index of gin).
    ``vacuum_free_share``: VACUUM first when more than this share of the file is free pages
    (queue.db: its tasks come and go, and a burst left 53 of its 62 pages free).
    Best effort: with a reader in the way the checkpoint stops early and the file stays."""
    if not path.exists():
        return
    try:
        conn = sqlite3.connect(str(path), timeout=1.0, isolation_level=None)
        try:
            if vacuum_free_share is not None:
                free = conn.execute("PRAGMA freelist_count").fetchone()[0]
                pages = conn.execute("PRAGMA page_count").fetchone()[0]
                if pages and free / pages > vacuum_free_share:
                    conn.execute("VACUUM")
            conn.execute("PRAGMA wal_checkpoint(TRUNCATE)").fetchall()
        finally:
            conn.close()
    except sqlite3.Error as exc:
        log.info("checkpoint of %s skipped: %s", path, exc)


def _move_symbols(conn: sqlite3.Connection) -> dict[int, list[list[str]]]:
    """Schema 5: the rows of schema 3-4's symbols table (renamed symbols_v4), in their order, into
    the table keyed by (file_id, seq); their signatures and docs (for `contents`) by file id."""
    rows = conn.execute(
        "SELECT file_id, name, kind, line, container, signature, doc FROM symbols_v4 "
        "ORDER BY file_id, id"
    ).fetchall()
    by_file: dict[int, list[dict[str, Any]]] = {}
    for file_id, name, kind, line, container, signature, doc in rows:
        by_file.setdefault(file_id, []).append(
            {"name": name, "kind": kind, "line": line, "container": container,
             "signature": signature, "doc": doc}
        )  # fmt: skip
    details: dict[int, list[list[str]]] = {}
    for file_id, symbols in by_file.items():
        out, details[file_id] = symbol_rows(file_id, symbols)
        store_symbols(conn, file_id, [row[1:] for row in out])
    conn.execute("DROP TABLE symbols_v4")
    return details


#: queue.db is VACUUMed after a burst when more than this share of it is free.
QUEUE_FREE_SHARE = 0.5


def _compact_json(conn: sqlite3.Connection) -> None:
    """Schema 5: the files JSON columns written again with compact separators (json_text). Text
    that is not JSON is left as it is."""
    columns = ", ".join(JSON_COLUMNS)
    sets = ", ".join(f"{c} = ?" for c in JSON_COLUMNS)
    for file_id, *values in conn.execute(f"SELECT id, {columns} FROM files").fetchall():
        compact = []
        for value in values:
            try:
                compact.append(json_text(json.loads(value)) if value else value)
            except (TypeError, ValueError):
                compact.append(value)
        if compact != values:
            conn.execute(f"UPDATE files SET {sets} WHERE id = ?", (*compact, file_id))


def _pack_contents(conn: sqlite3.Connection, old: int, details: dict[int, list[list[str]]]) -> None:
    """Schema 6: each file's text, words and symbol details packed into one `contents` frame —
    from files.full_content and files.symbols (schema 2-3, then emptied) or from schema 4-5's
    separately compressed columns (the table renamed contents_v5); ``details`` from the symbols
    upgrade, else schema 5's `defs`."""
    if old < 4:
        rows = conn.execute("SELECT id, full_content, symbols, NULL FROM files").fetchall()
    else:
        has_defs = any(
            r[1] == "defs" for r in conn.execute("PRAGMA table_info(contents_v5)").fetchall()
        )
        rows = [
            (file_id, _inflated(z), _inflated(words), _inflated(defs))
            for file_id, z, words, defs in conn.execute(
                f"SELECT f.id, c.z, c.words, {'c.defs' if has_defs else 'NULL'} FROM files f "
                "LEFT JOIN contents_v5 c ON c.file_id = f.id"
            ).fetchall()
        ]
    for file_id, text, words, defs in rows:
        pairs = details.get(file_id)
        if pairs is None:
            listed = _json(defs)
            pairs = listed if isinstance(listed, list) else []
        store_contents(conn, file_id, pack_contents(text or "", words or "", pairs))
    if old < 4:
        conn.execute("UPDATE files SET full_content = NULL, symbols = NULL")
    conn.execute("DROP TABLE IF EXISTS contents_v5")


def _inflated(blob: bytes | None) -> str | None:
    """A schema 4-5 `contents` column: one frame of UTF-8."""
    return decode(inflate(blob)) if blob is not None else None


def _split_sql(script: str) -> list[str]:
    """Split the schema into statements; triggers contain ';' inside BEGIN ... END."""
    statements: list[str] = []
    buf: list[str] = []
    for line in script.splitlines():
        if line.strip().startswith("--") and not buf:
            continue
        buf.append(line)
        joined = "\n".join(buf).strip()
        if sqlite3.complete_statement(joined):
            statements.append(joined)
            buf = []
    return [s for s in statements if s.strip(" ;\n")]
