"""The ledger: one row per path saying what is known about its documentation job.

A job is (repo-relative path, content sha). States: ``queued`` → ``running`` → ``done`` or
``failed``; ``skipped`` records a path the guard refused, with the reason. Enqueueing a job that is
already queued, running or done with the same sha changes nothing; a new sha supersedes the old
one; a deleted file leaves the index (docs/architecture.md principle 2).
"""

from __future__ import annotations

import os
import sqlite3
import time
from collections.abc import Callable, Iterable, Sequence
from typing import Any

import attrs

from cq_lsp.store.db import Database
from cq_lsp.store.rows import delete_files

STATES = ("queued", "running", "done", "failed", "skipped")
HISTORY_KEEP = 20_000
# An identical job is sent again only when the new request wants it this much sooner (an
# explicit `index` after a hook's delayed enqueue), never for producers racing by milliseconds.
EARLIER_BY_S = 1.0


def key_of(rel: str) -> tuple[str, bytes | None]:
    """The ledger key for a path: its text, plus its raw bytes when the name is not UTF-8."""
    try:
        rel.encode("utf-8")
        return rel, None
    except UnicodeEncodeError:
        raw = os.fsencode(rel)
        return raw.decode("utf-8", "backslashreplace"), raw


def storable(text: str) -> str:
    """``text`` as valid UTF-8 for SQLite, which refuses the lone surrogates that stand for the
    bytes of a non-UTF-8 file name (messages name the path); spelled as ``key_of`` spells it."""
    try:
        text.encode("utf-8")
        return text
    except UnicodeEncodeError:
        try:
            return text.encode("utf-8", "surrogateescape").decode("utf-8", "backslashreplace")
        except UnicodeEncodeError:  # a surrogate that is not an escaped byte
            return text.encode("utf-8", "backslashreplace").decode("utf-8")


def rel_of(path: str, path_bytes: bytes | None) -> str:
    return os.fsdecode(path_bytes) if path_bytes is not None else path


@attrs.define(frozen=True)
class Change:
    """A path to (re)document with its content sha, or to forget (``sha is None``: deleted)."""

    rel: str
    sha: str | None
    size: int | None = None
    mtime_ns: int | None = None


@attrs.define
class EnqueueResult:
    queued: list[tuple[str, str, float]] = attrs.field(factory=list)  # (rel, sha, delay_s)
    unchanged: int = 0
    removed: int = 0
    skipped: int = 0

    def to_dict(self) -> dict[str, int]:
        return {
            "queued": len(self.queued),
            "unchanged": self.unchanged,
            "removed": self.removed,
            "skipped": self.skipped,
        }


def record_history(
    conn: sqlite3.Connection,
    op: str,
    count: int,
    detail: str | None = None,
    source: str | None = None,
) -> None:
    """Append to the audit trail. ``detail`` names at most a few paths and never holds content."""
    cur = conn.execute(
        "INSERT INTO history (at, op, count, detail, source) VALUES (?,?,?,?,?)",
        (time.time(), op, count, detail, source),
    )
    if cur.lastrowid and cur.lastrowid % 1000 == 0:
        conn.execute("DELETE FROM history WHERE id <= ?", (cur.lastrowid - HISTORY_KEEP,))


def _detail(paths: Sequence[str], limit: int = 5) -> str:
    shown = ", ".join(paths[:limit])
    return shown + (f" (+{len(paths) - limit} more)" if len(paths) > limit else "")


def _forget(conn: sqlite3.Connection, key: str) -> bool:
    a = delete_files(conn, "filepath = ?", (key,))
    b = conn.execute("DELETE FROM jobs WHERE path = ?", (key,)).rowcount
    return bool(a or b)


def bump_counter(conn: sqlite3.Connection, name: str, by: int = 1) -> None:
    conn.execute(
        "INSERT INTO counters (name, value) VALUES (?, ?) "
        "ON CONFLICT(name) DO UPDATE SET value = value + excluded.value",
        (name, by),
    )


def skip_in(conn: sqlite3.Connection, rel: str, reason: str, message: str, *, source: str) -> None:
    """Inside a write transaction: record a refusal (see :meth:`Ledger.skip`)."""
    key, raw = key_of(rel)
    now = time.time()
    delete_files(conn, "filepath = ?", (key,))
    conn.execute(
        "INSERT INTO jobs (path, path_bytes, sha, state, attempts, error, reason, source, "
        "queued_at, finished_at) VALUES (?, ?, NULL, 'skipped', 0, ?, ?, ?, ?, ?) "
        "ON CONFLICT(path) DO UPDATE SET sha=NULL, state='skipped', error=excluded.error, "
        "reason=excluded.reason, source=excluded.source, finished_at=excluded.finished_at",
        (key, raw, storable(message), reason, source, now, now),
    )
    record_history(conn, f"skip:{reason}", 1, key, source)


def release_in(
    conn: sqlite3.Connection,
    rel: str,
    sha: str,
    error: str,
    *,
    final: bool,
    retry_in_s: float = 0.0,
) -> bool:
    """Inside a write transaction: a running job failed. Not final: queued again, due in
    ``retry_in_s`` (so a reconcile does not re-send it before its retry is due); final: failed,
    with the reason. Returns False when the job was not running with that sha (changes nothing).
    """
    key, _ = key_of(rel)
    now = time.time()
    cur = conn.execute(
        "UPDATE jobs SET state=?, error=?, finished_at=?, "
        "not_before=CASE WHEN ? THEN not_before ELSE ? END "
        "WHERE path=? AND sha=? AND state='running'",
        (
            "failed" if final else "queued",
            storable(error[:500]),
            now,
            final,
            now + retry_in_s,
            key,
            sha,
        ),
    )
    if cur.rowcount and final:
        record_history(conn, "failed", 1, key, "worker")
    return bool(cur.rowcount)


def running_in(conn: sqlite3.Connection, rel: str, sha: str) -> bool:
    """Inside a transaction: is this (path, sha) the job currently running?"""
    row = conn.execute("SELECT sha, state FROM jobs WHERE path = ?", (key_of(rel)[0],)).fetchone()
    return row is not None and row["sha"] == sha and row["state"] == "running"


# Every state a job can be in; `queue list --state` takes these ("delayed": queued, not yet due).
JOB_STATES = ("queued", "delayed", "running", "done", "failed", "skipped")


class Ledger:
    def __init__(self, db: Database) -> None:
        self.db = db

    # -- producers ----------------------------------------------------------------------------

    def enqueue(
        self,
        changes: Iterable[Change],
        *,
        source: str,
        delay_s: float = 0.0,
        now: float | None = None,
    ) -> EnqueueResult:
        """Record jobs in one transaction and say which ones need a task on the queue."""
        result = EnqueueResult()
        removed_paths: list[str] = []
        queued_paths: list[str] = []
        with self.db.tx() as conn:
            # The clock is read once the write lock is held, so concurrent producers see times
            # in the order their transactions commit.
            now = time.time() if now is None else now
            for ch in changes:
                key, raw = key_of(ch.rel)
                if ch.sha is None:
                    if _forget(conn, key):
                        result.removed += 1
                        removed_paths.append(key)
                    continue
                row = conn.execute(
                    "SELECT sha, state, not_before FROM jobs WHERE path = ?", (key,)
                ).fetchone()
                if (
                    row is not None
                    and row["sha"] == ch.sha
                    and row["state"] in ("queued", "running", "done")
                ):
                    # An explicit command must not wait behind an earlier delayed enqueue.
                    nb = row["not_before"] or 0
                    if row["state"] == "queued" and nb > now + delay_s + EARLIER_BY_S:
                        conn.execute(
                            "UPDATE jobs SET not_before = ? WHERE path = ?", (now + delay_s, key)
                        )
                        result.queued.append((ch.rel, ch.sha, delay_s))
                    else:
                        result.unchanged += 1
                    continue
                conn.execute(
                    "INSERT INTO jobs (path, path_bytes, sha, state, attempts, error, reason, "
                    "source, queued_at, started_at, finished_at, not_before, size, mtime_ns) "
                    "VALUES (?, ?, ?, 'queued', 0, NULL, NULL, ?, ?, NULL, NULL, ?, ?, ?) "
                    "ON CONFLICT(path) DO UPDATE SET sha=excluded.sha, state='queued', "
                    "attempts=0, error=NULL, reason=NULL, source=excluded.source, "
                    "queued_at=excluded.queued_at, started_at=NULL, finished_at=NULL, "
                    "not_before=excluded.not_before, size=excluded.size, "
                    "mtime_ns=excluded.mtime_ns, path_bytes=excluded.path_bytes",
                    (key, raw, ch.sha, source, now, now + delay_s, ch.size, ch.mtime_ns),
                )
                result.queued.append((ch.rel, ch.sha, delay_s))
                queued_paths.append(key)
            if queued_paths:
                record_history(conn, "enqueue", len(queued_paths), _detail(queued_paths), source)
            if removed_paths:
                record_history(
                    conn, "remove-deleted", len(removed_paths), _detail(removed_paths), source
                )
        return result

    def skip(self, rel: str, reason: str, message: str, *, source: str) -> None:
        """Record a refusal: the path's old documentation leaves the index, the reason stays."""
        with self.db.tx() as conn:
            skip_in(conn, rel, reason, message, source=source)

    def remove(self, rels: Sequence[str], *, source: str, op: str = "remove") -> int:
        """Forget paths: their jobs and their documentation."""
        keys = [key_of(r)[0] for r in rels]
        with self.db.tx() as conn:
            n = sum(1 for k in keys if _forget(conn, k))
            record_history(conn, op, n, _detail(keys), source)
        return n

    # -- the worker ---------------------------------------------------------------------------

    def claim_many(self, jobs: Sequence[tuple[str, str]], pid: int) -> list[tuple[str, str, int]]:
        """Claim a batch in one transaction: (rel, sha, attempts) of the jobs that were still
        current and queued, now running under ``pid``. The others were superseded, removed or
        already taken by a duplicate delivery."""
        claimed: list[tuple[str, str, int]] = []
        with self.db.tx() as conn:
            now = time.time()
            for rel, sha in jobs:
                key, _ = key_of(rel)
                row = conn.execute(
                    "SELECT sha, state, attempts FROM jobs WHERE path = ?", (key,)
                ).fetchone()
                if row is None or row["sha"] != sha or row["state"] != "queued":
                    continue
                conn.execute(
                    "UPDATE jobs SET state='running', started_at=?, attempts=attempts+1, "
                    "worker_pid=? WHERE path=?",
                    (now, pid, key),
                )
                claimed.append((rel, sha, row["attempts"] + 1))
        return claimed

    def paths_in_state(self, state: str) -> list[str]:
        """Every path whose job is in ``state`` (queued, failed, ...)."""
        rows = self.db.query("SELECT path, path_bytes FROM jobs WHERE state = ?", (state,))
        return [rel_of(r["path"], r["path_bytes"]) for r in rows]

    def queued(self) -> list[tuple[str, str]]:
        """(rel, sha) of every queued job, oldest first (non-UTF-8 names round-trip)."""
        rows = self.db.query(
            "SELECT path, path_bytes, sha FROM jobs WHERE state = 'queued' AND sha IS NOT NULL "
            "ORDER BY queued_at, path"
        )
        return [(rel_of(r["path"], r["path_bytes"]), r["sha"]) for r in rows]

    def state_counts(self, rels: Sequence[str]) -> dict[str, int]:
        """How many of these paths' jobs are in each state (gone rows count as done)."""
        keys = [key_of(r)[0] for r in rels]
        counts = dict.fromkeys(JOB_STATES, 0)
        seen = 0
        for i in range(0, len(keys), 500):
            chunk = keys[i : i + 500]
            rows = self.db.query(
                "SELECT state, COUNT(*) AS n FROM jobs WHERE path IN "
                f"({','.join('?' * len(chunk))}) GROUP BY state",
                tuple(chunk),
            )
            for r in rows:
                counts[r["state"]] = counts.get(r["state"], 0) + r["n"]
                seen += r["n"]
        counts["done"] += len(keys) - seen  # removed meanwhile (deleted files): nothing left to do
        return counts

    def cancel_queued(self, rels: Sequence[str], *, source: str, op: str = "cancel") -> int:
        """Drop the jobs among ``rels`` that are still queued, without losing documentation.

        A file documented before keeps its previous record and goes back to ``done`` at the sha
        that record describes; its size/mtime are cleared so the next index run hashes it again
        and queues the newer content. A file never documented loses only its job row.
        """
        dropped = 0
        with self.db.tx() as conn:
            for key in (key_of(r)[0] for r in rels):
                row = conn.execute("SELECT state FROM jobs WHERE path = ?", (key,)).fetchone()
                if row is None or row["state"] != "queued":
                    continue
                doc = conn.execute(
                    "SELECT content_sha FROM files WHERE filepath = ?", (key,)
                ).fetchone()
                if doc is not None and doc["content_sha"]:
                    conn.execute(
                        "UPDATE jobs SET state='done', sha=?, size=NULL, mtime_ns=NULL, "
                        "error=NULL, not_before=NULL WHERE path=?",
                        (doc["content_sha"], key),
                    )
                else:
                    conn.execute("DELETE FROM jobs WHERE path = ?", (key,))
                dropped += 1
            if dropped:
                record_history(conn, op, dropped, None, source)
        return dropped

    # -- recovery -----------------------------------------------------------------------------

    def requeue_interrupted(self) -> list[tuple[str, str]]:
        """Jobs left ``running`` by a dead worker go back to ``queued``; returns every queued job.

        Call only while no worker runs (the supervisor holds the worker lock).
        """
        with self.db.tx() as conn:
            n = conn.execute(
                "UPDATE jobs SET state='queued', worker_pid=NULL WHERE state='running'"
            ).rowcount
            if n:
                record_history(conn, "recover-running", n, None, "recovery")
            rows = conn.execute(
                "SELECT path, path_bytes, sha FROM jobs WHERE state='queued' ORDER BY queued_at"
            ).fetchall()
        return [(rel_of(r["path"], r["path_bytes"]), r["sha"]) for r in rows]

    def requeue_dead(
        self, alive: Callable[[int, float], bool] | None = None
    ) -> list[tuple[str, str]]:
        """Jobs left ``running`` by a worker process that died while the worker lives on (Huey
        restarts a killed child) go back to ``queued``; returns them, to be sent again.

        ``alive(pid, claimed_at)`` says whether the claiming process still runs. It is asked
        inside the write transaction, where no new claim can commit, so a process started after
        the question cannot have claimed a job it then loses.
        """
        alive = alive or pid_alive
        suspects = self.db.query(
            "SELECT worker_pid, MIN(started_at) AS t FROM jobs WHERE state='running' "
            "GROUP BY worker_pid"
        )
        if all(r["worker_pid"] is not None and alive(r["worker_pid"], r["t"]) for r in suspects):
            return []
        out: list[tuple[str, str]] = []
        with self.db.tx() as conn:
            rows = conn.execute(
                "SELECT path, path_bytes, sha, worker_pid, started_at FROM jobs "
                "WHERE state='running'"
            ).fetchall()
            verdict: dict[int | None, bool] = {}
            for r in rows:
                pid = r["worker_pid"]
                if pid not in verdict:
                    verdict[pid] = pid is not None and alive(pid, r["started_at"] or 0.0)
                if verdict[pid]:
                    continue
                conn.execute(
                    "UPDATE jobs SET state='queued', worker_pid=NULL WHERE path=?", (r["path"],)
                )
                out.append((rel_of(r["path"], r["path_bytes"]), r["sha"]))
            if out:
                record_history(
                    conn, "recover-running", len(out), _detail([p for p, _ in out]), "recovery"
                )
        return out

    def stranded(self, older_than_s: float) -> list[tuple[str, str]]:
        """Queued jobs due for more than ``older_than_s`` seconds: candidates for a re-send when
        the queue itself is empty (a producer died between its ledger commit and its send)."""
        cutoff = time.time() - older_than_s
        rows = self.db.query(
            "SELECT path, path_bytes, sha FROM jobs WHERE state='queued' "
            "AND COALESCE(not_before, queued_at) < ? ORDER BY queued_at",
            (cutoff,),
        )
        return [(rel_of(r["path"], r["path_bytes"]), r["sha"]) for r in rows]

    # -- reading ------------------------------------------------------------------------------

    def counts(self) -> dict[str, Any]:
        out: dict[str, Any] = {s: 0 for s in STATES}
        for r in self.db.query("SELECT state, COUNT(*) AS n FROM jobs GROUP BY state"):
            out[r["state"]] = r["n"]
        now = time.time()
        # A delayed job (a hook's delay for an LLM documenter, a retry's wait) is not late: it
        # is counted apart, with when the next one is due, so nothing looks stuck.
        row = self.db.query(
            "SELECT MIN(CASE WHEN COALESCE(not_before, 0) <= ?1 THEN queued_at END) AS t, "
            "SUM(COALESCE(not_before, 0) > ?1) AS delayed, "
            "MIN(CASE WHEN not_before > ?1 THEN not_before END) AS due "
            "FROM jobs WHERE state='queued'",
            (now,),
        )
        oldest = row[0]["t"] if row else None
        due = row[0]["due"] if row else None
        out["oldestQueuedS"] = round(max(0.0, now - oldest), 1) if oldest else None
        out["delayed"] = int(row[0]["delayed"] or 0) if row else 0
        out["nextDueS"] = round(max(0.0, due - now), 1) if due else None
        return out

    def jobs(self, states: Sequence[str] | None = None, limit: int | None = None) -> list[dict]:
        """Jobs as ``queue list`` shows them; ``delayed`` is a queued job not yet due."""
        sql = "SELECT * FROM jobs"
        params: list[Any] = []
        if states:
            # "delayed" is not stored: it is a queued row whose not_before lies ahead.
            conds = []
            stored = [s for s in states if s != "delayed"]
            if stored:
                conds.append(f"state IN ({','.join('?' * len(stored))})")
                params.extend(stored)
            if "queued" in stored and "delayed" not in states:
                conds[-1] = f"({conds[-1]} AND NOT (state='queued' AND not_before > ?))"
                params.append(time.time())
            if "delayed" in states:
                conds.append("(state='queued' AND not_before > ?)")
                params.append(time.time())
            sql += " WHERE " + " OR ".join(conds)
        sql += " ORDER BY queued_at, path"
        if limit:
            sql += " LIMIT ?"
            params.append(limit)
        return [job_dict(r) for r in self.db.query(sql, tuple(params))]

    def job(self, rel: str) -> dict | None:
        rows = self.db.query("SELECT * FROM jobs WHERE path = ?", (key_of(rel)[0],))
        return job_dict(rows[0]) if rows else None

    def history(self, limit: int = 20) -> list[dict]:
        rows = self.db.query(
            "SELECT at, op, count, detail, source FROM history ORDER BY id DESC LIMIT ?", (limit,)
        )
        return [
            {
                "at": iso(r["at"]),
                "op": r["op"],
                "count": r["count"],
                "detail": r["detail"],
                "source": r["source"],
            }
            for r in rows
        ]

    def counters(self) -> dict[str, int]:
        return {r["name"]: r["value"] for r in self.db.query("SELECT name, value FROM counters")}

    def current_shas(self) -> dict[str, tuple[str | None, int | None, int | None]]:
        """path → (sha, size, mtime_ns) of every job that is or will be documented (done,
        queued, running; failed and skipped ones carry None), for the staleness check: plain
        tuples, as thousands of rows are read on every look."""
        try:
            cur = self.db.conn().cursor()
            cur.row_factory = None  # tuples: a Row per job would cost more than the query
            rows = cur.execute(
                "SELECT path, CASE WHEN state IN ('done','queued','running') THEN sha END, "
                "size, mtime_ns FROM jobs"
            ).fetchall()
        except sqlite3.DatabaseError as exc:
            raise self.db._wrap(exc) from exc
        return {r[0]: (r[1], r[2], r[3]) for r in rows}

    def states_by_path(self) -> dict[str, tuple[str | None, str, int | None, int | None]]:
        """path → (sha, state, size, mtime_ns), for the stat shortcut of a full re-index."""
        return {
            r["path"]: (r["sha"], r["state"], r["size"], r["mtime_ns"])
            for r in self.db.query("SELECT path, sha, state, size, mtime_ns FROM jobs")
        }


def pid_alive(pid: int, claimed_at: float) -> bool:
    """Does the process that claimed a job at ``claimed_at`` still run (not a reused pid)?"""
    import psutil

    try:
        proc = psutil.Process(pid)
        return proc.status() != psutil.STATUS_ZOMBIE and proc.create_time() <= claimed_at + 1
    except psutil.Error:
        return False


def iso(ts: float | None) -> str | None:
    if ts is None:
        return None
    return time.strftime("%Y-%m-%dT%H:%M:%S", time.localtime(ts)) + f".{int(ts % 1 * 1000):03d}"


def job_dict(r: sqlite3.Row) -> dict[str, Any]:
    """A ledger row as ``queue list --json`` shows it (a contract), plus a few fields of ours."""
    nb = r["not_before"]
    delayed = r["state"] == "queued" and nb is not None and nb > time.time()
    out: dict[str, Any] = {
        "path": r["path"],
        "state": "delayed" if delayed else r["state"],
        "sha": r["sha"],
        "attempts": r["attempts"],
        "error": r["error"],
        "queued_at": iso(r["queued_at"]),
        "reason": r["reason"],
        "source": r["source"],
        "started_at": iso(r["started_at"]),
        "finished_at": iso(r["finished_at"]),
        "ageS": round(time.time() - r["queued_at"], 1) if r["queued_at"] else None,
    }
    if delayed:
        out["due_at"] = iso(nb)
    return out
