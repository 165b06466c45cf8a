"""``cq-lsp eval``: how well search finds the right file, measured on the repository itself.

Two sets of questions nobody chose:

- **definition lookup** — identifiers defined in exactly one file (by Universal Ctags when it is
  installed, else by the index's symbol rows) and used in at least two other files, queried by
  name, expecting the defining file;
- **history retrieval** — subjects of past commits that changed exactly one file still in the
  index (merges, reverts, version bumps, typo/format/docs-only commits skipped), queried as
  typed, expecting that file.

The same questions go, in the same run, to two baselines over the same files: plain BM25 over
full content (an in-memory FTS5 table, no field weights, no symbols, no stemming) and a
grep-style count of the query's terms. Figures: recall@1, recall@5 and mean reciprocal rank
(over the first 10 results).
"""

from __future__ import annotations

import json
import random
import re
import shutil
import sqlite3
import subprocess
from collections.abc import Callable
from pathlib import Path
from typing import Any

from cq_lsp.errors import CqLspError, UsageError
from cq_lsp.store.db import Database
from cq_lsp.store.rows import kind_code, text_of
from cq_lsp.store.search import search
from cq_lsp.worktree.git import run_git

SearchFn = Callable[[Database, str, int], list[str]]
DEPTH = 10  # results looked at per question (MRR counts a hit at rank 10 as 0.1)
MAX_MISSES = 100
DEFAULT_LIMIT = 200
MAX_LIMIT = 5000
_WORD = re.compile(r"[A-Za-z_][A-Za-z0-9_]*")
_TERM = re.compile(r"\w+")
_DEFINITION_KINDS = (
    "function", "method", "class", "struct", "interface", "enum", "type", "trait", "macro",
    "constant", "module",
)  # fmt: skip
# Subjects that say nothing about what the file does.
_SKIP_SUBJECT = re.compile(
    r"^(?:merge|revert)\b|\b(?:bump|release|version|typos?|spelling|format(?:ting)?|lint|"
    r"whitespace|style|prettier|black|ruff|changelog|readme|wip)\b|^v?\d+(?:\.\d+)+",
    re.IGNORECASE,
)
_NON_SOURCE_ROLES = ("docs", "data", "generated", "vendor")
# Languages of prose and configuration: a commit touching only one of them is not a code change.
_NOT_CODE = frozenset(
    {"markdown", "restructuredtext", "text", "json", "yaml", "toml", "ini", "xml", "gitignore",
     "csv", "asciidoc", "properties", "svg", "lock", "plaintext", "org"}
)  # fmt: skip


def _cq_search(db: Database, query: str, limit: int) -> list[str]:
    return [r["path"] for r in search(db, query, limit=limit)["results"]]


class _Corpus:
    """The indexed files' contents, and the two baselines over them."""

    def __init__(self, files: list[tuple[str, str]]) -> None:
        self.paths = [p for p, _ in files]
        self.lower = [t.lower() for _, t in files]
        self.mem = sqlite3.connect(":memory:")
        self.mem.execute("CREATE VIRTUAL TABLE t USING fts5(path UNINDEXED, content)")
        self.mem.executemany("INSERT INTO t (path, content) VALUES (?, ?)", files)

    def bm25(self, query: str, limit: int) -> list[str]:
        terms = list(dict.fromkeys(t.lower() for t in _TERM.findall(query)))
        if not terms:
            return []
        match = " OR ".join('"' + t.replace('"', '""') + '"' for t in terms)
        rows = self.mem.execute(
            "SELECT path FROM t WHERE t MATCH ? ORDER BY bm25(t) LIMIT ?", (match, limit)
        )
        return [r[0] for r in rows]

    def grep(self, query: str, limit: int) -> list[str]:
        terms = list(dict.fromkeys(t.lower() for t in _TERM.findall(query)))
        if not terms:
            return []
        scored = []
        for i, text in enumerate(self.lower):
            n = sum(text.count(t) for t in terms)
            if n:
                scored.append((-n, self.paths[i]))
        scored.sort()
        return [p for _, p in scored[:limit]]


# ctags kinds that are definitions a person looks up (not sections, targets, selectors...).
_CTAGS_KINDS = frozenset(
    {"function", "method", "class", "struct", "interface", "enum", "type", "trait", "macro",
     "constant", "module", "member", "typedef", "implementation", "func", "namespace"}
)  # fmt: skip
CTAGS_TIMEOUT_S = 120


def ctags_definitions(root: Path, indexed: set[str]) -> dict[str, set[str]] | None:
    """name → files defining it, by Universal Ctags over the work tree; None when not installed.

    ``--options=NONE``: the repository's own .ctags.d must not change what counts as a
    definition. Only files in the index count."""
    exe = shutil.which("ctags")
    if exe is None:
        return None
    try:
        proc = subprocess.run(
            [exe, "--options=NONE", "-R", "--output-format=json", "--fields=+nK", "-f", "-"],
            cwd=root,
            capture_output=True,
            timeout=CTAGS_TIMEOUT_S,
            check=False,
        )
    except (OSError, subprocess.TimeoutExpired):
        return None
    if proc.returncode != 0 or not proc.stdout.startswith(b"{"):
        return None  # exuberant ctags, or another program named ctags
    found: dict[str, set[str]] = {}
    for line in proc.stdout.decode("utf-8", "replace").splitlines():
        try:
            tag = json.loads(line)
        except ValueError:
            continue
        path = str(tag.get("path", "")).removeprefix("./")
        if tag.get("kind") in _CTAGS_KINDS and path in indexed:
            found.setdefault(str(tag.get("name", "")), set()).add(path)
    return found


def definition_tasks(
    db: Database, limit: int, root: Path | None = None
) -> tuple[list[tuple[str, str]], str]:
    """(name, defining file) pairs — names defined in one file only and used in two others or
    more — and where the definitions came from: ``ctags`` when installed, else ``symbols``."""
    contents = _contents(db)
    tags = ctags_definitions(root, {p for p, _ in contents}) if root is not None else None
    if tags is not None:
        once = {n: next(iter(p)) for n, p in tags.items() if len(p) == 1}
        return _used_elsewhere(once, contents, limit), "ctags"
    rows = db.query(
        "SELECT s.name, min(f.filepath) AS path, count(DISTINCT s.file_id) AS n FROM symbols s "
        "JOIN files f ON f.id = s.file_id WHERE s.kind IN ("
        + ",".join("?" * len(_DEFINITION_KINDS))
        + ") GROUP BY s.name HAVING n = 1",
        tuple(kind_code(k) for k in _DEFINITION_KINDS),
    )
    # Short and dunder names are words of every file, not identifiers anyone looks up.
    once = {r["name"]: r["path"] for r in rows}
    return _used_elsewhere(once, contents, limit), "symbols"


def _used_elsewhere(
    once: dict[str, str], contents: list[tuple[str, str]], limit: int
) -> list[tuple[str, str]]:
    # Short and dunder names are words of every file, not identifiers anyone looks up.
    defined = {
        n: p
        for n, p in once.items()
        if len(n) >= 4 and not n.startswith("__") and _WORD.fullmatch(n)
    }
    uses: dict[str, int] = dict.fromkeys(defined, 0)
    for path, text in contents:
        for word in set(_WORD.findall(text)) & defined.keys():
            if defined[word] != path:
                uses[word] += 1
    names = sorted(n for n, k in uses.items() if k >= 2)
    random.Random(13).shuffle(names)
    return [(n, defined[n]) for n in names[:limit]]


def history_tasks(db: Database, root: Path, limit: int) -> list[tuple[str, str]]:
    """(commit subject, the one file it changed), newest first."""
    roles = {
        r["filepath"]: r["role"]
        for r in db.query(
            "SELECT f.filepath, f.language, coalesce(r.role, 'source') AS role FROM files f "
            "LEFT JOIN file_roles r ON r.file_id = f.id"
        )
        if r["language"] not in _NOT_CODE
    }
    try:
        out = run_git(
            root, "log", "--no-merges", "--no-renames", "--format=%x1e%s", "--name-only", "-z"
        )
    except CqLspError:
        return []  # no commits yet
    tasks: list[tuple[str, str]] = []
    seen: set[str] = set()
    for chunk in out.decode("utf-8", "replace").split("\x1e")[1:]:
        subject, _, rest = chunk.partition("\0")
        files = [p.strip("\n") for p in rest.split("\0") if p.strip("\n")]
        subject = subject.strip()
        if len(files) != 1 or not subject or subject in seen or _SKIP_SUBJECT.search(subject):
            continue
        role = roles.get(files[0])
        if role is None or role in _NON_SOURCE_ROLES:
            continue
        seen.add(subject)
        tasks.append((subject, files[0]))
        if len(tasks) >= limit:
            break
    return tasks


def _contents(db: Database) -> list[tuple[str, str]]:
    return [
        (r[0], text_of(r[1], r[2]))
        for r in db.query(
            "SELECT f.filepath, c.z, c.text_at FROM files f "
            "LEFT JOIN contents c ON c.file_id = f.id"
        )
    ]


def _score(
    tasks: list[tuple[str, str]], fn: Callable[[str, int], list[str]], kind: str, misses: list
) -> dict[str, Any]:
    hits1 = hits5 = 0
    rr = 0.0
    for query, expected in tasks:
        got = fn(query, DEPTH)
        rank = got.index(expected) + 1 if expected in got else None
        if rank is not None:
            hits1 += rank == 1
            hits5 += rank <= 5
            rr += 1.0 / rank
        if rank != 1 and len(misses) < MAX_MISSES:
            misses.append(
                {"task": kind, "query": query, "expected": expected, "rank": rank, "got": got[:3]}
            )
    n = len(tasks)
    return {
        "n": n,
        "recall@1": round(hits1 / n, 4) if n else None,
        "recall@5": round(hits5 / n, 4) if n else None,
        "mrr": round(rr / n, 4) if n else None,
    }


def evaluate(
    db: Database, root: Path, *, limit: int = DEFAULT_LIMIT, search_fn: SearchFn | None = None
) -> dict[str, Any]:
    """``eval --json``'s object. ``search_fn`` replaces cq-lsp's search (the benchmark compares
    an older ranking with it)."""
    if isinstance(limit, bool) or not isinstance(limit, int) or not 1 <= limit <= MAX_LIMIT:
        raise UsageError(f"--limit must be an integer from 1 to {MAX_LIMIT}, got {limit!r}")
    ours = search_fn or _cq_search
    definition, source = definition_tasks(db, limit, root)
    history = history_tasks(db, root, limit)
    corpus = _Corpus(_contents(db))
    misses: list[dict[str, Any]] = []
    result: dict[str, Any] = {
        "definition": _score(definition, lambda q, k: ours(db, q, k), "definition", misses),
        "history": _score(history, lambda q, k: ours(db, q, k), "history", misses),
        "baselines": {},
        "misses": misses,
        "definitions_from": source,
    }
    for name, fn in (("bm25", corpus.bm25), ("grep", corpus.grep)):
        result["baselines"][name] = {
            "definition": _score(definition, fn, name, []),
            "history": _score(history, fn, name, []),
        }
    corpus.mem.close()
    return result
