"""What `cq-lsp hook NAME [ARGS]` does: queue what a git operation changed.

The shims in ``hooks/`` start this in the background (``CQ_LSP_HOOK_DETACHED=1``, output appended
to ``.code-query/logs/hooks.log``). Run any other way — by pre-commit, lefthook, or a person — it
first detaches itself the same way, so a git command never waits for it.

Which files each hook names (NUL-separated git output, so any file name survives; renames are a
delete plus an add, ``--no-renames``):

- post-commit: ``diff-tree --root HEAD`` (the root commit too); a merge commit against its first
  parent. An amend runs this too.
- post-merge ``SQUASH``: ``ORIG_HEAD..HEAD``; a squash merge leaves HEAD alone, so ``diff HEAD``.
- post-checkout ``PREV NEW FLAG``: a branch switch is ``PREV..NEW``; a clone or ``worktree add``
  (PREV all zeros) and a file checkout (FLAG 0, which names no files) check every tracked file
  against the index by size and mtime, as ``cq-lsp index`` does, so only changed files are read.
- post-rewrite ``amend|rebase`` with ``<old> <new>`` pairs on stdin: an amend is the pairs'
  diff; a rebase is ``ORIG_HEAD..HEAD``, the change of the work tree.

Files that exist are queued — with ``processing.delay_seconds`` when the documenter is an LLM
command (the delay coalesces rebases and bursts of commits to save calls), at once with the static
documenter, whose work costs milliseconds; files that are gone leave the index. Then, in auto
mode, a worker is started if none runs; if none can run and ``fallback_to_sync`` is on, this
process documents the files itself within ``queue_timeout`` seconds. Manual mode only queues.

Principle 4 of docs/architecture.md: nothing here imports the language server (pygls, lsprotocol).
"""

from __future__ import annotations

import os
import re
import sys
import time
import traceback
from collections.abc import Sequence
from pathlib import Path
from typing import TYPE_CHECKING, Any

from cq_lsp.core.logs import rotate_log
from cq_lsp.errors import CqLspError, WorkerError
from cq_lsp.githooks.install import DETACHED_ENV, HEAD_ENV, HOOK_NAMES, ORIG_HEAD_ENV, SKIP_ENV
from cq_lsp.worktree.git import commit_id, run_git, split_z

if TYPE_CHECKING:
    from cq_lsp.config.schema import Config
    from cq_lsp.core.workspace import EnqueueReport, Workspace
    from cq_lsp.worktree.project import Project

_SHA_RE = re.compile(r"[0-9a-f]{40}|[0-9a-f]{64}")
# The environment variables git sets that tie a process to one repository (`git rev-parse
# --local-env-vars`). A hook's background work outlives the git command: a GIT_INDEX_FILE pointing
# at a temporary index that git has since deleted would make every later git call see no files.
LOCAL_GIT_ENV = (
    "GIT_ALTERNATE_OBJECT_DIRECTORIES",
    "GIT_CONFIG",
    "GIT_CONFIG_PARAMETERS",
    "GIT_CONFIG_COUNT",
    "GIT_OBJECT_DIRECTORY",
    "GIT_DIR",
    "GIT_WORK_TREE",
    "GIT_IMPLICIT_WORK_TREE",
    "GIT_GRAFT_FILE",
    "GIT_INDEX_FILE",
    "GIT_NO_REPLACE_OBJECTS",
    "GIT_REPLACE_REF_BASE",
    "GIT_PREFIX",
    "GIT_SHALLOW_FILE",
    "GIT_COMMON_DIR",
)
_DIFF = ("diff", "--name-only", "-z", "--no-renames", "--no-ext-diff", "--no-relative")

#: "every tracked file": the hook cannot know which files changed.
ALL = None
#: "the files that differ from the ledger": git names none (post-index-change). Compared by
#: identity, never filled.
STALE: list[str] = []


# -- which files ---------------------------------------------------------------------------------


class HookArgumentError(CqLspError):
    """A hook argument (or pre-commit variable, or stdin pair) that names no commit."""


def _rev(root: Path, value: str, what: str) -> str:
    """The commit id ``value`` names; refuses anything else, options above all.

    Hook arguments reach us from whoever runs ``cq-lsp hook`` (or sets ``PRE_COMMIT_*_REF``): a
    value like ``--output=FILE`` must never reach git as an option.
    """
    if value.startswith("-"):
        raise HookArgumentError(
            f"refused {what} {value[:100]!r}: it looks like an option, not a commit",
            hint="hooks take commit ids, as git passes them",
        )
    sha = commit_id(root, value)
    if sha is None:
        raise CqLspError(f"{what} {value[:100]!r} names no commit in this repository")
    return sha


def _diff(root: Path, *revs: str) -> list[str]:
    ids = [_rev(root, rev, "revision") for rev in revs]
    return split_z(run_git(root, *_DIFF, "--end-of-options", *ids, "--"))


def _commit_files(root: Path, rev: str = "HEAD") -> list[str]:
    sha = _rev(root, rev, "revision")
    ids = (
        run_git(root, "rev-list", "--parents", "-n", "1", "--end-of-options", sha, "--")
        .decode()
        .split()
    )
    if len(ids) >= 3:  # a merge commit: what it brought, against the first parent
        return _diff(root, ids[1], ids[0])
    return split_z(
        run_git(
            root,
            "diff-tree",
            "--root",
            "--no-commit-id",
            "--name-only",
            "-r",
            "-z",
            "--no-renames",
            "--no-ext-diff",
            "--end-of-options",
            ids[0],
            "--",
        )
    )


def _union(lists: Sequence[list[str]]) -> list[str]:
    seen: dict[str, None] = {}
    for paths in lists:
        for p in paths:
            seen.setdefault(p, None)
    return list(seen)


def parse_pairs(text: str) -> list[tuple[str, str]]:
    """post-rewrite's stdin: ``<old-sha> <new-sha> [<extra>]`` per line."""
    pairs = []
    for line in text.splitlines():
        parts = line.split()
        if len(parts) >= 2:
            pairs.append((parts[0], parts[1]))
    return pairs


def _commit_id(value: str | None, fallback: str) -> str:
    """A commit id the shim read, if it looks like one; else the symbolic name (read now)."""
    if value and _SHA_RE.fullmatch(value):
        return value
    return fallback


def changed_paths(
    root: Path,
    hook: str,
    args: Sequence[str],
    pairs: Sequence[tuple[str, str]] = (),
    *,
    head: str = "HEAD",
    orig_head: str = "ORIG_HEAD",
) -> tuple[list[str] | None, str]:
    """The files ``hook`` says changed (``ALL``: check every tracked file), and how they were
    found (for the log). ``head``/``orig_head``: the commits the shim saw (HEAD moves on if
    more commits follow before this runs)."""
    if hook == "post-commit":
        return _commit_files(root, head), f"{head[:10]}'s change"
    if hook == "post-merge":
        if args and args[0] == "1":
            return _diff(root, "HEAD"), "squash merge: work tree against HEAD"
        try:
            return _diff(root, orig_head, head), f"{orig_head[:10]}..{head[:10]}"
        except CqLspError:
            return _commit_files(root, head), f"{head[:10]}'s change (no ORIG_HEAD)"
    if hook == "post-checkout":
        prev, new, flag = (*args, "", "", "")[:3]
        for value, what in ((prev, "previous HEAD"), (new, "new HEAD")):
            if value.startswith("-"):
                _rev(root, value, what)  # raises: an option is never a commit
        if flag == "0":
            return ALL, "file checkout: every tracked file checked by size and mtime"
        if not prev or set(prev) == {"0"}:
            return ALL, "new checkout (clone or worktree add): every tracked file"
        if prev == new:
            return [], "same commit"
        try:
            return _diff(root, prev, new), f"{prev[:10]}..{new[:10]}"
        except CqLspError:
            return ALL, f"{prev[:10]} is unknown: every tracked file"
    if hook == "post-rewrite":
        kind = args[0] if args else ""
        if kind == "rebase":
            try:
                return _diff(root, orig_head, head), f"rebase: {orig_head[:10]}..{head[:10]}"
            except CqLspError:
                pass
        if pairs:
            for old, new in pairs:
                _rev(root, old, "rewritten commit")
                _rev(root, new, "rewritten commit")
            return _union([_diff(root, old, new) for old, new in pairs]), f"{kind}: rewritten pairs"
        try:  # pre-commit does not pass the pairs on: the reflog knows the amended commit
            return _diff(root, "HEAD@{1}", "HEAD"), f"{kind}: HEAD@{{1}}..HEAD"
        except CqLspError:
            return _commit_files(root, head), f"{kind}: HEAD's change"
    if hook == "post-index-change":
        # git names no files: the work tree is compared with the ledger (git's stat cache).
        return STALE, "work tree rewritten (reset, stash, restore…): files that differ"
    raise CqLspError(f"unknown hook {hook}", hint=f"one of: {', '.join(HOOK_NAMES)}")


def from_pre_commit(hook: str, args: Sequence[str]) -> tuple[str, list[str]]:
    """Under pre-commit one entry serves every stage; its variables say which and with what."""
    env = os.environ
    if env.get("PRE_COMMIT") != "1" or args:
        return hook, list(args)
    if env.get("PRE_COMMIT_CHECKOUT_TYPE"):
        return "post-checkout", [
            env.get("PRE_COMMIT_FROM_REF", ""),
            env.get("PRE_COMMIT_TO_REF", ""),
            env["PRE_COMMIT_CHECKOUT_TYPE"],
        ]
    if env.get("PRE_COMMIT_IS_SQUASH_MERGE"):
        return "post-merge", [env["PRE_COMMIT_IS_SQUASH_MERGE"]]
    if env.get("PRE_COMMIT_REWRITE_COMMAND"):
        return "post-rewrite", [env["PRE_COMMIT_REWRITE_COMMAND"]]
    return "post-commit", []


# -- the log -------------------------------------------------------------------------------------


class HookLog:
    """Lines in hooks.log (this process's stderr when detached): time, hook, pid, message."""

    def __init__(self, hook: str) -> None:
        self.hook = hook

    def __call__(self, message: str) -> None:
        stamp = time.strftime("%Y-%m-%d %H:%M:%S")
        try:
            sys.stderr.write(f"{stamp} {self.hook}[{os.getpid()}]: {message}\n")
            sys.stderr.flush()
        except (OSError, ValueError):
            pass


# -- running a hook ------------------------------------------------------------------------------


def _clean_git_env() -> None:
    for name in LOCAL_GIT_ENV:
        os.environ.pop(name, None)


def hook_delay_s(cfg: Config) -> int:
    """How long a hook's jobs wait: ``delay_seconds`` saves LLM calls on bursts of commits; the
    static documenter is cheap, so its work runs at once and a commit is searchable in a second."""
    return cfg.processing.delay_seconds if cfg.processor.kind == "command" else 0


def _summary(report: EnqueueReport, delay: int) -> str:
    r = report.result
    return (
        f"{len(r.queued)} queued, {r.removed} removed, {r.unchanged} unchanged, "
        f"{r.skipped} skipped" + (f" (due in {delay} s)" if delay and r.queued else "")
    )


def run_hook(
    project: Project, hook: str, args: Sequence[str], pairs: Sequence[tuple[str, str]] = ()
) -> dict[str, Any]:
    """Queue what ``hook`` changed and see that it gets documented. Logs to stderr; never raises
    for what git did (a problem is logged and returned)."""
    # The core is imported by the detached process only: the shim's own process, which git
    # waits for, just reads the arguments and spawns this one.
    from cq_lsp.core.workspace import Workspace

    log = HookLog(hook)
    ws = Workspace(project)
    try:
        cfg = ws.config
        delay = hook_delay_s(cfg)
        paths, how = changed_paths(
            project.root,
            hook,
            args,
            pairs,
            head=_commit_id(os.environ.pop(HEAD_ENV, None), "HEAD"),
            orig_head=_commit_id(os.environ.pop(ORIG_HEAD_ENV, None), "ORIG_HEAD"),
        )
        source = f"hook:{hook}"
        if paths is STALE:
            # Like the Workspace above: only the detached process needs the core.
            from cq_lsp.core.freshness import check

            found = check(ws)
            paths = found.paths()
            how += f" ({len(paths)} in {found.elapsed_s * 1000:.0f} ms)"
        if paths is ALL:
            report = ws.enqueue_all(source=source, delay_s=delay, send=False)
        else:
            report = ws.enqueue_paths(paths, source=source, delay_s=delay, send=False)
        outcome: dict[str, Any] = {
            "hook": hook,
            "args": list(args),
            "found": how,
            "paths": None if paths is ALL else len(paths),
            **report.to_dict(),
            "delayS": delay,
        }
        # .code-query/config.json is committed by design and never documented: not news.
        shown = [r for r in report.refused if r.reason != "internal"]
        for refusal in shown[:5]:
            log(f"skipped {refusal.message}")
        if len(shown) > 5:
            log(f"skipped {len(shown) - 5} more (`cq-lsp queue list --state skipped`)")
        sent_error: str | None = None
        if report.result.queued:
            try:
                ws.transport.send(report.result.queued)
            except Exception as exc:  # the queue is unreachable (Redis down, disk full…)
                sent_error = f"the queue is unreachable: {' '.join(str(exc).split())[:200]}"
        outcome["worker"] = _see_it_documented(ws, report, sent_error, log)
        log(f"done: {_summary(report, delay)} [{how}]; {outcome['worker']}")
        return outcome
    finally:
        ws.close()


def _see_it_documented(
    ws: Workspace, report: EnqueueReport, sent_error: str | None, log: HookLog
) -> str:
    """Auto mode: a worker runs, or one is started, or this process documents the files."""
    from cq_lsp.core.autostart import MANUAL_NOTE, Verdict, ensure_worker, verdict
    from cq_lsp.core.supervisor import is_running

    proc = ws.config.processing
    problem = sent_error
    decided = verdict(ws, report)
    if decided is Verdict.NO_WORK:
        return "nothing waits"
    if decided is Verdict.MANUAL:
        return MANUAL_NOTE + (f" ({sent_error}; the worker re-sends them)" if sent_error else "")
    if problem is None:
        try:
            return ensure_worker(ws, report) or decided.value
        except WorkerError as exc:
            # Another hook may have started one a moment ago (the loser of the worker lock exits).
            deadline = time.monotonic() + 2.0
            while time.monotonic() < deadline:
                if is_running(ws.project):
                    return "worker running (started by another process)"
                time.sleep(0.05)
            problem = f"no worker could start: {exc.message}"
    if not proc.fallback_to_sync:
        return f"{problem}; the files stay queued (fallback_to_sync is off)"
    log(f"{problem}; documenting here for up to {proc.queue_timeout:g} s")
    return document_here(ws, report.result.queued, proc.queue_timeout)


def document_here(ws: Workspace, jobs: Sequence[tuple[str, str, float]], timeout_s: float) -> str:
    """Document ``jobs`` in this process, starting none after ``timeout_s``; what is left stays
    queued in the ledger for the next worker."""
    from cq_lsp.core.runner import document_queued

    pairs = [(rel, sha) for rel, sha, _ in jobs]
    outcome = document_queued(ws, pairs, threads=1, timeout_s=timeout_s)
    done = sum(
        1
        for rel, sha in pairs
        if (j := ws.ledger.job(rel)) and j["sha"] == sha and j["state"] == "done"
    )
    left = outcome["left"]
    return f"documented {done} of {len(jobs)} in the hook process" + (
        f"; {left} left queued (queue_timeout {timeout_s:g} s)" if left else ""
    )


# -- the face's two ways in ----------------------------------------------------------------------


def read_pairs(hook: str) -> list[tuple[str, str]]:
    if hook != "post-rewrite" or sys.stdin is None or sys.stdin.isatty():
        return []
    try:
        return parse_pairs(sys.stdin.read())
    except (OSError, ValueError):
        return []


def skip_requested() -> bool:
    return os.environ.get(SKIP_ENV, "") in ("1", "true", "yes")


def run_detached_here(project: Project, hook: str, args: Sequence[str]) -> dict[str, Any]:
    """The background half (what the shims start): rotate the log, leave git's session, run."""
    log = HookLog(hook)
    rotate_log(project.hooks_log)
    try:
        os.setsid()  # no terminal: closing it, or Ctrl-C in it, does not reach us
    except OSError:
        pass
    pairs = read_pairs(hook)
    _clean_git_env()
    try:
        return run_hook(project, hook, args, pairs)
    except CqLspError as exc:
        log(f"failed: {' '.join(str(exc).split())}")
        return {"hook": hook, "error": exc.to_dict()}
    except Exception as exc:  # never let a hook's background job die silently
        log(f"failed: {type(exc).__name__}: {exc}\n{traceback.format_exc()}")
        return {"hook": hook, "error": {"error": type(exc).__name__, "message": str(exc)}}


def spawn_detached(project: Project, hook: str, args: Sequence[str]) -> dict[str, Any]:
    """The foreground half, for callers other than our shims: hand the work to a background
    process (output to hooks.log) and return at once."""
    import subprocess

    pairs = read_pairs(hook)
    project.logs_dir.mkdir(parents=True, exist_ok=True)
    rotate_log(project.hooks_log)
    cmd = [sys.executable, "-I", "-m", "cq_lsp", "--root", str(project.root), "hook", hook, *args]
    env = {**os.environ, DETACHED_ENV: "1"}
    with open(project.hooks_log, "ab") as out:
        proc = subprocess.Popen(
            cmd,
            stdin=subprocess.PIPE if pairs else subprocess.DEVNULL,
            stdout=out,
            stderr=out,
            cwd=str(project.root),
            env=env,
            start_new_session=True,
            close_fds=True,
        )
    if pairs and proc.stdin is not None:
        try:
            proc.stdin.write("".join(f"{a} {b}\n" for a, b in pairs).encode())
            proc.stdin.close()
        except OSError:
            pass
    return {
        "hook": hook,
        "args": list(args),
        "detached": True,
        "pid": proc.pid,
        "log": str(project.hooks_log),
    }
