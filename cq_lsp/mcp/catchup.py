"""Which files' documentation is missing or describes other content than the work tree holds.

Cheap by design: git's index already holds each tracked file's blob sha (`git ls-files -s`), and
`git diff-files` names the files whose work-tree copy may differ from it; only those are read and
hashed. The ledger says which sha each file's documentation describes. A file is listed when
  - ``missing``: tracked, allowed by the guard's rules, never documented;
  - ``stale``: documented, but for another sha than the file's current one;
  - ``deleted``: documented, but the file is gone from the work tree.
"""

from __future__ import annotations

import os
from typing import TYPE_CHECKING, Any

from cq_lsp.errors import PathRefused
from cq_lsp.store.documentation import get_record
from cq_lsp.store.ledger import key_of
from cq_lsp.worktree.git import run_git, split_z
from cq_lsp.worktree.guard import BINARY_SNIFF_BYTES, looks_binary

if TYPE_CHECKING:
    from cq_lsp.core.workspace import Workspace


def index_shas(ws: Workspace) -> tuple[dict[str, str], set[str]]:
    """path → blob sha of every tracked file as git's index records it, and the conflicted
    paths (no single sha in the index: they are hashed from disk)."""
    out = run_git(ws.project.root, "ls-files", "-s", "-z")
    shas: dict[str, str] = {}
    conflicted: set[str] = set()
    for entry in out.split(b"\0"):
        if not entry:
            continue
        meta, _, raw_path = entry.partition(b"\t")
        fields = meta.split()
        if len(fields) != 3 or fields[0] == b"160000":
            continue  # submodules are not files
        if fields[2] != b"0":
            conflicted.add(os.fsdecode(raw_path))
            continue
        shas[os.fsdecode(raw_path)] = fields[1].decode("ascii")
    return shas, conflicted


def current_sha(ws: Workspace, rel: str) -> str | None:
    """The sha of ``rel`` as the work tree holds it now; None when it is gone or refused."""
    try:
        return ws.guard.read(rel).sha
    except PathRefused:
        return None


def _documentable(ws: Workspace, rel: str) -> bool:
    """Would the guard let a job document this never-documented file? (rules, size, binary)"""
    try:
        ws.guard.check_rules(rel, tracked=True)
        path = ws.guard.abspath(rel)
        st = path.stat()
        if st.st_size > ws.guard.max_file_bytes:
            return False
        with open(path, "rb") as fh:
            return not looks_binary(fh.read(BINARY_SNIFF_BYTES))
    except (PathRefused, OSError):
        return False


def files_needing_catchup(ws: Workspace, *, limit: int = 100) -> dict[str, Any]:
    """``{"files": [{path, reason, state, documented_sha, current_sha}], "total", ...}``."""
    root = ws.project.root
    tracked, conflicted = index_shas(ws)
    dirty = set(split_z(run_git(root, "diff-files", "--name-only", "-z"))) | conflicted
    known = ws.ledger.states_by_path()

    def sha_now(rel: str) -> str | None:
        if rel in dirty or rel not in tracked:
            return current_sha(ws, rel)
        return tracked[rel]

    found: list[dict[str, Any]] = []
    for rel in sorted(set(tracked) | conflicted):
        key = key_of(rel)[0]
        prior = known.get(key)
        if prior is None or prior[1] == "skipped":
            if prior is None and rel not in dirty and _documentable(ws, rel):
                found.append(_entry(rel, "missing", None, None, tracked.get(rel)))
            elif prior is None and rel in dirty:
                now = current_sha(ws, rel)
                if now is not None and _documentable(ws, rel):
                    found.append(_entry(rel, "missing", None, None, now))
            continue
        sha, state = prior[0], prior[1]
        documented = sha if state == "done" else _documented_sha(ws, rel)
        now = sha_now(rel)
        if now is None:
            if documented is not None and not ws.guard.abspath(rel).exists():
                found.append(_entry(rel, "deleted", state, documented, None))
            continue
        if documented is None:
            found.append(_entry(rel, "missing", state, None, now))
        elif documented != now:
            found.append(_entry(rel, "stale", state, documented, now))
    # Documented files git does not track: gone from the disk (deleted, renamed away), or
    # untracked files documented on save, read and hashed (there are few of those).
    for key, (sha, state, _size, _mtime) in known.items():
        if key in tracked or key in conflicted or state != "done" or not sha:
            continue
        if not ws.guard.abspath(key).exists():
            found.append(_entry(key, "deleted", state, sha, None))
            continue
        now = current_sha(ws, key)
        if now is not None and now != sha:
            found.append(_entry(key, "stale", state, sha, now))
    found.sort(key=lambda f: f["path"])
    reasons: dict[str, int] = {}
    for f in found:
        reasons[f["reason"]] = reasons.get(f["reason"], 0) + 1
    return {
        "root": str(root),
        "total": len(found),
        "byReason": reasons,
        "files": found[:limit],
        "truncated": len(found) > limit,
        "tracked": len(tracked),
    }


def _documented_sha(ws: Workspace, rel: str) -> str | None:
    record = get_record(ws.db, rel)
    return record["content_sha"] if record else None


def _entry(
    rel: str, reason: str, state: str | None, documented: str | None, current: str | None
) -> dict[str, Any]:
    return {
        "path": rel,
        "filepath": rel,  # code-query's name for it
        "reason": reason,
        "state": state,
        "documented_sha": documented,
        "current_sha": current,
    }


def is_fresh(ws: Workspace, rel: str, documented_sha: str | None) -> dict[str, Any]:
    """``{"fresh": bool}`` plus both shas when the documentation is not current."""
    now = current_sha(ws, rel)
    if documented_sha is not None and now == documented_sha:
        return {"fresh": True}
    return {"fresh": False, "documented_sha": documented_sha, "current_sha": now}
