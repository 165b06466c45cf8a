"""Is the index current? The work tree compared with the ledger, and each answer's own freshness.

Hooks do not fire for every change (``git reset --hard`` without a ref change, ``git stash``,
``sed -i``, a GUI pull that skips hooks), so ``status``, ``doctor``, the server's periodic refresh
and ``search``/``show`` look for themselves. The look is cheap because git already keeps a stat
cache: ``git ls-files --stage`` gives the blob sha of every tracked file as git's index holds it,
and ``git diff-files`` names the few files whose stat changed since; only those are read and
hashed. Untracked files are not listed with ``git ls-files --others``: ``cq-lsp index`` documents
tracked files only, so a new untracked file is not lag; an untracked file that was documented (an
editor save) is in the ledger and is checked by its size and mtime.

A file is *stale* when its documentation (or its queued job) is for other content than the file
holds now, or it is gone while its documentation stays; *missing* when it is tracked, would be
documented, and the ledger knows nothing of it.
"""

from __future__ import annotations

import os
import time
from collections.abc import Iterable, Sequence
from typing import Any

import attrs

from cq_lsp.core.autostart import ensure_worker
from cq_lsp.core.workspace import EnqueueReport, Workspace
from cq_lsp.errors import CqLspError, PathRefused
from cq_lsp.store.freshness import mark_answers
from cq_lsp.store.ledger import key_of
from cq_lsp.worktree.git import index_snapshot

#: Results of a look are reused this long: a status notification every 250 ms must not run git.
CHECK_TTL_S = 2.0
#: How many stale paths a report names.
SHOWN = 5


@attrs.define
class Staleness:
    stale: list[str] = attrs.field(factory=list)
    missing: list[str] = attrs.field(factory=list)
    elapsed_s: float = 0.0
    checked_at: float = 0.0
    error: str | None = None

    @property
    def count(self) -> int:
        return len(self.stale) + len(self.missing)

    def paths(self) -> list[str]:
        return self.stale + self.missing

    def message(self) -> str:
        parts = []
        if self.stale:
            n = len(self.stale)
            parts.append(f"{n} file{'' if n == 1 else 's'} changed since indexed")
        if self.missing:
            n = len(self.missing)
            parts.append(f"{n} file{'' if n == 1 else 's'} not indexed yet")
        return ", ".join(parts) + " — `cq-lsp index`"

    def to_dict(self) -> dict[str, Any]:
        return {
            "stale": self.count,
            "changed": len(self.stale),
            "missing": len(self.missing),
            "examples": self.paths()[:SHOWN],
            "checkMs": round(self.elapsed_s * 1000, 1),
        }


def current_sha(ws: Workspace, rel: str) -> str | None:
    """The blob sha of the file as it is now; None when it is gone or can no longer be read."""
    try:
        return ws.guard.read(rel).sha
    except PathRefused:
        return None


def check(ws: Workspace) -> Staleness:
    """Compare the work tree with the ledger (milliseconds on thousands of files)."""
    t0 = time.perf_counter()
    result = Staleness(checked_at=time.time())
    try:
        blobs, dirty = index_snapshot(ws.project.root)
    except CqLspError as exc:  # not a git work tree any more, git missing: say so, do not fail
        result.error = str(exc)
        return result
    known = ws.ledger.current_shas()
    candidates: list[str] = []
    for rel, index_sha in blobs.items():
        key = key_of(rel)[0]
        row = known.get(key)
        if row is None:
            candidates.append(rel)
            continue
        sha = row[0]
        if not sha:
            continue  # skipped or failed: reported as such elsewhere
        current = current_sha(ws, rel) if rel in dirty else index_sha
        if current != sha:
            result.stale.append(rel)
    tracked = {key_of(rel)[0] for rel in blobs}
    for key, (sha, size, mtime_ns) in known.items():
        if key in tracked or not sha:
            continue
        try:
            st = os.stat(ws.guard.abspath(key))
        except OSError:
            result.stale.append(key)  # gone, its documentation stays
            continue
        if (st.st_size, st.st_mtime_ns) != (size, mtime_ns) and current_sha(ws, key) != sha:
            result.stale.append(key)
    # A tracked file the ledger does not know: new (a pull, a reset) unless the guard would
    # refuse it anyway (.code-query/config.json, ...): only these few are checked by the rules.
    for rel in candidates:
        try:
            ws.guard.check_rules(ws.guard.to_rel(rel), tracked=True)
        except PathRefused:
            continue  # .code-query/config.json (committed by design), excluded, ignored…
        if os.path.lexists(ws.guard.abspath(rel)):
            result.missing.append(rel)
    result.elapsed_s = time.perf_counter() - t0
    return result


def cached_check(ws: Workspace, max_age_s: float = CHECK_TTL_S) -> Staleness:
    """``check``, reused for ``max_age_s`` on this workspace object."""
    prior: Staleness | None = getattr(ws, "_staleness", None)
    if prior is not None and time.time() - prior.checked_at < max_age_s:
        return prior
    result = check(ws)
    ws._staleness = result  # type: ignore[attr-defined]
    return result


def forget_cached(ws: Workspace) -> None:
    ws._staleness = None  # type: ignore[attr-defined]


def catch_up(
    ws: Workspace, staleness: Staleness, *, start_worker: bool = True
) -> EnqueueReport | None:
    """Auto mode: queue what the look found and (``start_worker``) see a worker runs; manual
    mode: nothing (the status reports it). Returns the enqueue report when it queued.

    The language server passes ``start_worker=False``: its own supervision starts workers,
    honouring a user's stop and the watchdog's backoff."""
    if not staleness.count or ws.config.processing.mode != "auto":
        return None
    report = ws.enqueue_paths(staleness.paths(), source="freshness")
    forget_cached(ws)
    if report.result.queued and start_worker:
        ensure_worker(ws, report)
    return report


def annotate(ws: Workspace, results: Sequence[dict[str, Any]], key: str = "path") -> list[str]:
    """Add ``fresh`` (and when false ``documented_sha``, ``current_sha``) to each answer in
    place — does its documentation describe the file as it is now? Returns the stale paths."""
    return mark_answers(ws.db, ws.project.root, results, lambda rel: current_sha(ws, rel), key)


def queue_stale_answers(ws: Workspace, stale: Sequence[str], *, source: str) -> None:
    """Auto mode: an answer found stale is queued at once (and a worker started), so the next
    answer is current; manual mode leaves it to the user, whom the answer told."""
    if stale and ws.config.processing.mode == "auto":
        report = ws.enqueue_paths(stale, source=source)
        if report.result.queued:
            ensure_worker(ws, report)


def stale_paths(results: Iterable[dict[str, Any]]) -> list[str]:
    return [str(r.get("path")) for r in results if r.get("fresh") is False]
