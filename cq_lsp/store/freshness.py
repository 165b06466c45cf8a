"""Does an answer describe its file as it is now? The per-answer half of freshness.

Light on purpose (the store and ``os`` only): ``cq-lsp search`` marks its hits with it and stays
fast. A hit costs one ``stat``; only a file whose size or mtime changed since it was documented
is hashed, by ``sha_now`` (the caller's guarded read). The work-tree-wide check is
``cq_lsp.core.freshness``.
"""

from __future__ import annotations

import os
from collections.abc import Callable, Iterable, Sequence
from pathlib import Path
from typing import Any

from cq_lsp.store.db import Database

#: (documented content sha, size, mtime_ns of the file it was made from, the file's real name —
#: not the index's escaped spelling when the name is not UTF-8)
Documented = tuple[str, int | None, int | None, str]


def documented_shas(db: Database, keys: Iterable[str]) -> dict[str, Documented]:
    """path → what its documentation was made from, for the paths that have documentation.
    ``keys`` are ledger keys, as answers name their paths (``files.filepath``)."""
    wanted = list(dict.fromkeys(keys))
    out: dict[str, Documented] = {}
    for i in range(0, len(wanted), 500):
        chunk = wanted[i : i + 500]
        rows = db.query(
            "SELECT f.filepath AS path, f.content_sha AS sha, j.size AS size, "
            "j.mtime_ns AS mtime_ns, j.path_bytes AS raw FROM files f "
            "LEFT JOIN jobs j ON j.path = f.filepath "
            f"AND j.sha = f.content_sha WHERE f.filepath IN ({','.join('?' * len(chunk))})",
            tuple(chunk),
        )
        for r in rows:
            if r["sha"]:
                real = os.fsdecode(r["raw"]) if r["raw"] is not None else r["path"]
                out[r["path"]] = (r["sha"], r["size"], r["mtime_ns"], real)
    return out


def mark_answers(
    db: Database,
    root: Path,
    answers: Sequence[dict[str, Any]],
    sha_now: Callable[[str], str | None],
    key: str = "path",
) -> list[str]:
    """Add ``fresh`` (and when false ``documented_sha``, ``current_sha``) to each answer in
    place; returns the stale paths, as real file names (to queue). ``sha_now(rel)``: the
    file's blob sha now, None if gone. Answers name paths as the index spells them (a non-UTF-8
    name in its escaped form)."""
    documented = documented_shas(db, [str(a[key]) for a in answers if a.get(key)])
    memo: dict[str, tuple[bool, str | None, str | None]] = {}
    for answer in answers:
        rel = answer.get(key)
        if not rel:
            continue
        rel = str(rel)
        if rel not in memo:
            memo[rel] = _freshness(root, rel, documented.get(rel), sha_now)
        fresh, doc_sha, cur_sha = memo[rel]
        answer["fresh"] = fresh
        if not fresh:
            answer["documented_sha"] = doc_sha
            answer["current_sha"] = cur_sha
    return [
        documented[rel][3] if rel in documented else rel
        for rel, (fresh, _, _) in memo.items()
        if not fresh
    ]


def _freshness(
    root: Path, rel: str, doc: Documented | None, sha_now: Callable[[str], str | None]
) -> tuple[bool, str | None, str | None]:
    if doc is None:
        return False, None, None  # no documentation to be fresh (the answer says why)
    sha, size, mtime_ns, real = doc
    try:
        st = os.stat(root / real, follow_symlinks=False)
    except OSError:
        return False, sha, None
    if (st.st_size, st.st_mtime_ns) == (size, mtime_ns):
        return True, sha, sha
    current = sha_now(real)
    return current == sha, sha, current
