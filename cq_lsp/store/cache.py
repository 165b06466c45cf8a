"""The user's local content-addressed documentation store, shared by every work tree and clone.

A record is stored under its *documentation key*: the sha256 of the documenter's fingerprint
(cq_lsp/documenters/select.py ``documenter_fingerprint``), the sha256 of the file's bytes as the
reader read them, the language and — for the static documenter, whose record names the file — the
path. The stored record is context-free: the repository's local-module names (which imports are
dependencies) are applied when a record is committed into a work tree's index.db
(``localize``), so one record serves every clone whatever its top-level names.

The store is one SQLite file in the user's data dir (``docs-cache.db``), WAL mode so several
workers of several repositories read and write it at once; LRU-bounded by ``cache.max_bytes``; a
corrupt file is moved aside and rebuilt, and the rebuild is reported by ``cache status`` and the
work tree's status. It is a cache: any failure to read or write it is a miss, never a failed job.
"""

from __future__ import annotations

import atexit
import fcntl
import hashlib
import json
import logging
import os
import sqlite3
import threading
import time
import zlib
from collections.abc import Iterable, Mapping
from pathlib import Path
from typing import Any

from cq_lsp.config.trust import data_dir
from cq_lsp.documenters.answer import AnswerError, to_record
from cq_lsp.documenters.records import SYMBOL_KINDS, FileRecord

log = logging.getLogger(__name__)

STORE_NAME = "docs-cache.db"
# A hit refreshes the record's last use at most this often: an LRU to the hour is enough, and a
# write per hit would cost more than the look-up.
TOUCH_AFTER_S = 3600
# When over max_bytes, records are dropped until the store is this fraction of it.
PRUNE_TO = 0.9
# Size is checked after this many bytes were added (a SUM over the table is not free).
PRUNE_CHECK_BYTES = 8 << 20
PROCESSOR_CHARS = 200
# Deferred writes (static records): this many at once, or after this long.
DEFER_RECORDS = 200
DEFER_S = 2.0

_SCHEMA = """
CREATE TABLE IF NOT EXISTS records (
    key TEXT PRIMARY KEY,
    record BLOB NOT NULL,
    size INTEGER NOT NULL,
    used_at INTEGER NOT NULL
) WITHOUT ROWID;
CREATE INDEX IF NOT EXISTS records_used ON records(used_at);
CREATE TABLE IF NOT EXISTS meta (key TEXT PRIMARY KEY, value TEXT);
"""


def content_sha256(data: bytes) -> str:
    return hashlib.sha256(data).hexdigest()


def doc_key(fingerprint: str, sha256: str, language: str, path: str | None) -> str:
    """The documentation key; ``path`` only for documenters whose record depends on it."""
    text = json.dumps([fingerprint, sha256, language, path or ""], separators=(",", ":"))
    return hashlib.sha256(text.encode("utf-8")).hexdigest()


def localize(record: FileRecord, local_modules: frozenset[str]) -> FileRecord:
    """Drop the dependencies that are the repository's own modules: the commit-time half of a
    record documented without repository context (equal to documenting with it; test_cache)."""
    if not local_modules or not record.dependencies:
        return record
    java = record.language == "java"
    record.dependencies = [
        d
        for d in record.dependencies
        if d not in local_modules and not (java and d.split(".", 1)[0] in local_modules)
    ]
    return record


def encode_record(record: FileRecord) -> bytes:
    data = record.to_dict()
    for name in ("path", "filename", "language"):
        data.pop(name, None)  # the reader's own, set again on the way out
    # Plain JSON: compressing cost as much as encoding (~50 µs a record), a third of the look-up
    # overhead on the static documenter; records are small and the store is size-bounded.
    return json.dumps(data, separators=(",", ":")).encode()


def _check_symbols(value: Any) -> list[dict[str, Any]]:
    if not isinstance(value, list):
        raise AnswerError("invalid stored record: symbols must be a list")
    out = []
    for item in value:
        ok = (
            isinstance(item, dict)
            and isinstance(item.get("name"), str)
            and item.get("kind") in SYMBOL_KINDS
            and isinstance(item.get("line"), int)
            and isinstance(item.get("container"), (str, type(None)))
            and isinstance(item.get("signature", ""), str)
            and isinstance(item.get("doc", ""), str)
        )
        if not ok:
            raise AnswerError("invalid stored record: a symbol has the wrong shape")
        out.append({k: item.get(k, "") for k in ("name", "kind", "line", "signature", "doc")})
        out[-1]["container"] = item.get("container")
    return out


def decode_record(blob: bytes, *, path: str, language: str) -> FileRecord:
    """A stored record, validated as an LLM answer is (a record is data, never code);
    ``AnswerError`` when it is not one."""
    try:
        # zlib-compressed records (a team store's, or an older version's) are read too.
        obj = json.loads(blob if blob[:1] == b"{" else zlib.decompress(blob))
    except (zlib.error, ValueError) as exc:
        raise AnswerError(f"invalid stored record: {exc}") from None
    if not isinstance(obj, dict):
        raise AnswerError("invalid stored record: not an object")
    processor = obj.get("processor")
    if not isinstance(processor, str) or not processor or len(processor) > PROCESSOR_CHARS:
        raise AnswerError("invalid stored record: processor must be a short string")
    record = to_record(
        obj,
        path=path,
        filename=path.rpartition("/")[2],
        language=language,
        processor=processor,
    )
    record.symbols = _check_symbols(obj.get("symbols", []))
    return record


def store_path(env: Mapping[str, str] | None = None) -> Path:
    return data_dir(env) / STORE_NAME


def _is_corruption(exc: sqlite3.DatabaseError) -> bool:
    text = str(exc).lower()
    return "malformed" in text or "not a database" in text or "file is encrypted" in text


class LocalStore:
    """The store; safe to share between threads (one connection each) and processes (WAL)."""

    def __init__(self, path: Path, max_bytes: int) -> None:
        self.path = Path(path)
        self.max_bytes = max_bytes
        self._local = threading.local()
        self._added = 0
        self._lock = threading.Lock()
        self._warned = False
        self._pending: list[tuple[str, bytes]] = []
        self._flushed_at = time.monotonic()

    # -- connections -------------------------------------------------------------------------

    def _conn(self) -> sqlite3.Connection:
        conn: sqlite3.Connection | None = getattr(self._local, "conn", None)
        if conn is None:
            conn = self._open()
            self._local.conn = conn
        return conn

    def _open(self) -> sqlite3.Connection:
        self.path.parent.mkdir(parents=True, exist_ok=True)
        try:
            return self._connect()
        except sqlite3.DatabaseError as exc:
            if not _is_corruption(exc):
                raise
            self._rebuild(exc)
            return self._connect()

    def _connect(self) -> sqlite3.Connection:
        conn = sqlite3.connect(self.path, timeout=10, isolation_level=None)
        try:
            conn.execute("PRAGMA busy_timeout=10000")
            if conn.execute("PRAGMA journal_mode").fetchone()[0] != "wal":
                conn.execute("PRAGMA journal_mode=WAL")
            conn.execute("PRAGMA synchronous=NORMAL")
            conn.executescript(_SCHEMA)
            conn.execute("SELECT count(*) FROM records WHERE key = ''").fetchone()
        except BaseException:
            conn.close()
            raise
        return conn

    def _rebuild(self, exc: Exception) -> None:
        """Move a corrupt store aside and start empty; under a lock, so of several processes
        that see the corruption one moves it and the others use the new file."""
        lock_path = self.path.with_name(self.path.name + ".lock")
        with open(lock_path, "a+b") as lock:
            fcntl.flock(lock, fcntl.LOCK_EX)
            try:
                self._connect().close()
                return  # another process rebuilt it meanwhile
            except sqlite3.DatabaseError:
                pass
            stamp = time.strftime("%Y%m%d-%H%M%S")
            aside = self.path.with_name(f"{self.path.name}.corrupt-{stamp}-{os.getpid()}")
            os.replace(self.path, aside)
            for suffix in ("-wal", "-shm"):
                try:
                    os.unlink(str(self.path) + suffix)
                except FileNotFoundError:
                    pass
            conn = self._connect()
            note = json.dumps({"at": time.time(), "reason": str(exc), "aside": str(aside)})
            conn.execute("INSERT OR REPLACE INTO meta VALUES ('rebuilt', ?)", (note,))
            conn.close()
        log.warning("the documentation store %s was corrupt (%s); moved to %s and rebuilt",
                    self.path, exc, aside)  # fmt: skip

    def _run(self, what: str, step: Any) -> Any:
        """Run ``step(conn)``; corruption → rebuild and retry once; other errors → None."""
        for attempt in (0, 1):
            try:
                return step(self._conn())
            except sqlite3.DatabaseError as exc:
                self.close_thread()
                if attempt == 0 and _is_corruption(exc):
                    try:
                        self._rebuild(exc)
                    except OSError as os_exc:
                        exc = sqlite3.DatabaseError(f"{exc}; cannot rebuild: {os_exc}")
                    else:
                        continue
                if not self._warned:
                    self._warned = True
                    log.warning("documentation store %s: cannot %s: %s", self.path, what, exc)
                return None
            except OSError as exc:
                if not self._warned:
                    self._warned = True
                    log.warning("documentation store %s: cannot %s: %s", self.path, what, exc)
                return None
        return None

    def close_thread(self) -> None:
        conn = getattr(self._local, "conn", None)
        if conn is not None:
            self._local.conn = None
            conn.close()

    # -- records -----------------------------------------------------------------------------

    def get(self, key: str) -> bytes | None:
        def step(conn: sqlite3.Connection) -> bytes | None:
            row = conn.execute(
                "SELECT record, used_at FROM records WHERE key = ?", (key,)
            ).fetchone()
            if row is None:
                return None
            now = int(time.time())
            if row[1] < now - TOUCH_AFTER_S:
                try:
                    conn.execute("UPDATE records SET used_at = ? WHERE key = ?", (now, key))
                except sqlite3.OperationalError:
                    pass  # busy: the next hit refreshes it
            return bytes(row[0])

        result: bytes | None = self._run("read a record", step)
        return result

    def put_many(self, items: Iterable[tuple[str, bytes]], *, defer: bool = False) -> int:
        """Add records (a key already present keeps its record: same key, same documentation).

        ``defer``: gather them and write up to DEFER_RECORDS at once, at most DEFER_S later (or
        at ``flush``/exit): a transaction per batch of five static records cost more than their
        look-ups. A kill -9 loses the gathered ones — it is a cache.
        """
        if defer:
            with self._lock:
                self._pending.extend(items)
                due = (
                    len(self._pending) >= DEFER_RECORDS
                    or time.monotonic() - self._flushed_at >= DEFER_S
                )
                if not due:
                    return 0
                items, self._pending = self._pending, []
                self._flushed_at = time.monotonic()
        rows = [(k, b, len(b) + len(k), int(time.time())) for k, b in items]
        if not rows:
            return 0

        def step(conn: sqlite3.Connection) -> int:
            conn.execute("BEGIN IMMEDIATE")
            try:
                conn.executemany("INSERT OR IGNORE INTO records VALUES (?, ?, ?, ?)", rows)
                conn.execute("COMMIT")
            except BaseException:
                conn.execute("ROLLBACK")
                raise
            return len(rows)

        added = self._run("write records", step) or 0
        with self._lock:
            self._added += sum(r[2] for r in rows)
            check = self._added >= PRUNE_CHECK_BYTES
            if check:
                self._added = 0
        if check:
            self.prune()
        return int(added)

    def put(self, key: str, blob: bytes) -> None:
        self.put_many([(key, blob)])

    def flush(self) -> None:
        """Write the records ``put_many(defer=True)`` gathered."""
        with self._lock:
            items, self._pending = self._pending, []
            self._flushed_at = time.monotonic()
        if items:
            self.put_many(items)

    def prune(self, max_bytes: int | None = None) -> dict[str, int]:
        """Drop the least recently used records until the store is under its bound."""
        limit = self.max_bytes if max_bytes is None else max_bytes

        def step(conn: sqlite3.Connection) -> dict[str, int]:
            total = conn.execute("SELECT coalesce(sum(size), 0) FROM records").fetchone()[0]
            if total <= limit:
                return {"removed": 0, "bytes": int(total)}
            target = int(limit * PRUNE_TO)
            conn.execute("BEGIN IMMEDIATE")
            removed = 0
            try:
                rows = conn.execute("SELECT key, size FROM records ORDER BY used_at, key")
                doomed = []
                for key, size in rows:
                    if total <= target:
                        break
                    doomed.append((key,))
                    total -= size
                conn.executemany("DELETE FROM records WHERE key = ?", doomed)
                removed = len(doomed)
                conn.execute("COMMIT")
            except BaseException:
                conn.execute("ROLLBACK")
                raise
            return {"removed": removed, "bytes": int(total)}

        result: dict[str, int] = self._run("prune", step) or {"removed": 0, "bytes": 0}
        return result

    def stats(self) -> dict[str, Any]:
        def step(conn: sqlite3.Connection) -> dict[str, Any]:
            count, size = conn.execute(
                "SELECT count(*), coalesce(sum(size), 0) FROM records"
            ).fetchone()
            row = conn.execute("SELECT value FROM meta WHERE key = 'rebuilt'").fetchone()
            return {
                "path": str(self.path),
                "records": int(count),
                "bytes": int(size),
                "maxBytes": self.max_bytes,
                "rebuilt": json.loads(row[0]) if row else None,
            }

        result: dict[str, Any] | None = self._run("read its size", step)
        return result or {"path": str(self.path), "records": None, "bytes": None}

    def note(self, name: str, value: Mapping[str, Any] | None) -> None:
        """Keep (or clear) a small note other processes show, e.g. the team store's warning."""

        def step(conn: sqlite3.Connection) -> None:
            if value is None:
                conn.execute("DELETE FROM meta WHERE key = ?", (name,))
            else:
                conn.execute(
                    "INSERT OR REPLACE INTO meta VALUES (?, ?)", (name, json.dumps(dict(value)))
                )

        self._run("write a note", step)

    def read_note(self, name: str) -> dict[str, Any] | None:
        def step(conn: sqlite3.Connection) -> dict[str, Any] | None:
            row = conn.execute("SELECT value FROM meta WHERE key = ?", (name,)).fetchone()
            return json.loads(row[0]) if row else None

        result: dict[str, Any] | None = self._run("read a note", step)
        return result


_STORES: dict[tuple[str, int], LocalStore] = {}
_STORES_LOCK = threading.Lock()


def local_store(max_bytes: int, env: Mapping[str, str] | None = None) -> LocalStore:
    """The process's store object for the user's data dir (one per path, shared by threads)."""
    path = store_path(env)
    with _STORES_LOCK:
        store = _STORES.get((str(path), max_bytes))
        if store is None:
            store = _STORES[(str(path), max_bytes)] = LocalStore(path, max_bytes)
            atexit.register(store.flush)  # deferred records of a process that ends normally
        return store
