"""The one command table: every shared command, its typed arguments and its action.

The language server registers exactly these names for ``workspace/executeCommand`` (the VS Code
extension calls them), the CLI runs the same actions and prints their result, and the MCP face
builds its tools on them. A face differs only in its ``Session``: where a work tree comes from,
and what the face adds when work is queued or the worker is started or stopped (the language
server remembers that the user stopped the worker; the CLI starts one per the core's policy).
Each action returns a typed result (commands/results.py); a face prints it or turns it into the
JSON of the contract with ``results.to_json``.
"""

from __future__ import annotations

from collections.abc import Callable
from pathlib import Path
from typing import Any, Protocol

import attrs

from cq_lsp.commands import arguments as a
from cq_lsp.commands import results as r
from cq_lsp.core import actions, autostart, freshness, supervisor
from cq_lsp.core.supervisor import worker_status
from cq_lsp.core.workspace import EnqueueReport, Workspace
from cq_lsp.githooks import install as githooks
from cq_lsp.store.evaluate import evaluate
from cq_lsp.store.search import search
from cq_lsp.store.symbols import find_symbols


class Session(Protocol):
    """What a face provides to the shared actions."""

    #: Recorded in the ledger's history as who asked: "cli", "editor", "mcp".
    source: str
    #: Relative paths are taken from here (the CLI's current directory); None: the work tree.
    base: Path | None

    def workspace(self, root: str | None) -> Workspace: ...

    def work_tree(self, root: str | None) -> Path:
        """The work tree, initialized or not (for ``cq.init`` and the hooks)."""
        ...

    def initialized(self, root: Path) -> None:
        """``.code-query/`` was just created (the server starts serving that folder)."""
        ...

    def statuses(self, args: a.StatusArgs) -> list[dict[str, Any]]: ...

    def queued(self, ws: Workspace, report: EnqueueReport | None) -> str | None:
        """Work was queued: start a worker if the face's policy says so; say what happened."""
        ...

    def start_worker(self, ws: Workspace) -> dict[str, Any]: ...

    def stop_worker(self, ws: Workspace) -> dict[str, Any]: ...

    def worker_restarts(self, ws: Workspace) -> int: ...


class CoreSession:
    """What a face without a watchdog of its own does (the CLI, MCP): the core's start policy, the
    supervisor's start and stop. The language server has its own session (user-stopped state,
    the watchdog's crash count)."""

    def initialized(self, root: Path) -> None:
        pass

    def queued(self, ws: Workspace, report: EnqueueReport | None) -> str | None:
        return autostart.ensure_worker(ws, report)

    def start_worker(self, ws: Workspace) -> dict[str, Any]:
        return supervisor.start_worker(ws.project)

    def stop_worker(self, ws: Workspace) -> dict[str, Any]:
        return supervisor.stop_worker(ws.project)

    def worker_restarts(self, ws: Workspace) -> int:
        return 0  # no watchdog here: only the language server restarts a crashed worker


@attrs.frozen
class Command:
    name: str  # the language server's command id, e.g. "cq.queue.add"
    summary: str
    args: type
    run: Callable[[Session, Any], Any]  # returns one of commands/results.py's classes

    def __call__(self, session: Session, raw: Any) -> Any:
        return self.run(session, a.parse(self.name, self.args, raw))


# -- the actions ---------------------------------------------------------------------------------


def _status(s: Session, args: a.StatusArgs) -> r.Status | r.Statuses:
    found = [r.from_json(r.Status, st) for st in s.statuses(args)]
    return r.Statuses(folders=found) if args.all else found[0]


def _search(s: Session, args: a.SearchArgs) -> r.SearchResult:
    ws = s.workspace(args.root)
    result = search(ws.db, args.query, limit=args.limit)
    _fresh_answers(s, ws, result["results"])
    return r.from_json(r.SearchResult, result)


def _symbol(s: Session, args: a.SymbolArgs) -> r.SymbolResult:
    ws = s.workspace(args.root)
    symbols = find_symbols(ws.db, args.name, kind=args.kind, limit=args.limit)
    _fresh_answers(s, ws, symbols)  # each definition says whether its file changed since
    return r.SymbolResult(query=args.name, symbols=[r.from_json(r.SymbolHit, x) for x in symbols])


def _eval(s: Session, args: a.EvalArgs) -> r.EvalResult:
    ws = s.workspace(args.root)
    return r.from_json(r.EvalResult, evaluate(ws.db, ws.project.root, limit=args.limit))


def _show(s: Session, args: a.ShowArgs) -> r.FileRecord:
    ws = s.workspace(args.root)
    record = ws.show(args.path, base=s.base)
    _fresh_answers(s, ws, [record])
    return r.from_json(r.FileRecord, record)


def _fresh_answers(s: Session, ws: Workspace, answers: list[dict[str, Any]]) -> None:
    """Each answer says whether it describes the file as it is now; in auto mode a stale one
    is queued at once, so the next answer is current."""
    freshness.annotate(ws, answers)
    stale = freshness.stale_paths(answers)
    if stale and ws.config.processing.mode == "auto":
        report = ws.enqueue_paths(stale, source=s.source)
        if report.result.queued:
            s.queued(ws, report)


def _index(s: Session, args: a.IndexArgs) -> r.IndexResult:
    """Queue the paths (or every tracked file). Waiting is the face's: the CLI draws a progress
    bar, the language server reports $/progress."""
    ws = s.workspace(args.root)
    if args.paths:
        report = ws.enqueue_paths(args.paths, source=s.source, base=s.base)
    else:
        report = ws.enqueue_all(source=s.source)
    return _after_queueing(s, ws, report)


def _after_queueing(s: Session, ws: Workspace, report: EnqueueReport) -> r.IndexResult:
    """The enqueue report, and what the face did about a worker ("worker started")."""
    done = report.result
    return r.IndexResult(
        queued=len(done.queued),
        unchanged=done.unchanged,
        removed=done.removed,
        skipped=done.skipped,
        refused=[r.from_json(r.Refused, x.to_dict()) for x in report.refused],
        note=s.queued(ws, report),
    )


def _init(s: Session, args: a.InitArgs) -> r.InitResult:
    root = s.work_tree(args.root)
    result = r.from_json(r.InitResult, actions.init_project(root, args.dataset))
    if args.hooks:
        result.hooks = r.from_json(r.HooksChanged, githooks.install_hooks(Path(result.root)))
    s.initialized(Path(result.root))
    return result


def _worker(action: str) -> Callable[[Session, a.NoArgs], r.WorkerResult]:
    def run(s: Session, args: a.NoArgs) -> r.WorkerResult:
        """What the supervisor did, plus the ``worker`` part of the status object afterwards."""
        ws = s.workspace(args.root)
        if action == "stop":
            result = s.stop_worker(ws)
        else:
            ws.check_config()  # an invalid configuration is reported before anything spawns
            if action == "restart":
                result = {"stopped": s.stop_worker(ws), **s.start_worker(ws)}
            else:
                result = s.start_worker(ws)
        worker = worker_status(ws.project, ws.config.processing.worker_check_interval)
        worker["restarts"] = s.worker_restarts(ws)
        return r.from_json(r.WorkerResult, {**result, "worker": worker})

    return run


def _queue_list(s: Session, args: a.QueueListArgs) -> r.JobsResult:
    return r.from_json(
        r.JobsResult, actions.queue_list(s.workspace(args.root), args.state, args.limit)
    )


def _queue_add(s: Session, args: a.PathsArgs) -> r.IndexResult:
    ws = s.workspace(args.root)
    return _after_queueing(s, ws, ws.enqueue_paths(args.paths, source=s.source, base=s.base))


def _queue_remove(s: Session, args: a.PathsArgs) -> r.Removed:
    ws = s.workspace(args.root)
    return r.Removed(removed=actions.queue_remove(ws, args.paths, source=s.source, base=s.base))


def _queue_clear(s: Session, args: a.NoArgs) -> r.Cleared:
    return r.Cleared(cleared=actions.queue_clear(s.workspace(args.root), source=s.source))


def _queue_retry(s: Session, args: a.NoArgs) -> r.Retried:
    ws = s.workspace(args.root)
    report = actions.queue_retry(ws, source=s.source)
    if report is None:
        return r.Retried(queued=0)
    return r.Retried(queued=len(report.result.queued), note=s.queued(ws, report))


def _queue_cleanup(s: Session, args: a.NoArgs) -> r.Removed:
    return r.Removed(removed=actions.queue_cleanup(s.workspace(args.root), source=s.source))


def _queue_history(s: Session, args: a.HistoryArgs) -> r.HistoryResult:
    entries = s.workspace(args.root).ledger.history(args.n)
    return r.HistoryResult(history=[r.from_json(r.HistoryEntry, h) for h in entries])


def _hooks(
    fn: Callable[[Path], dict[str, Any]], result: type[r.HooksChanged] | type[r.HooksStatus]
) -> Callable[[Session, a.NoArgs], r.HooksChanged | r.HooksStatus]:
    def run(s: Session, args: a.NoArgs) -> r.HooksChanged | r.HooksStatus:
        return r.from_json(result, fn(s.work_tree(args.root)))

    return run


COMMANDS: dict[str, Command] = {
    c.name: c
    for c in (
        Command("cq.status", "worker, queue and index in one object", a.StatusArgs, _status),
        Command("cq.search", "ranked results with snippets", a.SearchArgs, _search),
        Command("cq.symbol", "definitions of a name, best first", a.SymbolArgs, _symbol),
        Command("cq.eval", "search quality on this repository", a.EvalArgs, _eval),
        Command("cq.show", "one file's documentation", a.ShowArgs, _show),
        Command("cq.index", "queue every tracked file (or paths)", a.IndexArgs, _index),
        Command("cq.init", "create .code-query/ and its config", a.InitArgs, _init),
        Command("cq.worker.start", "start the worker", a.NoArgs, _worker("start")),
        Command("cq.worker.stop", "stop the worker gracefully", a.NoArgs, _worker("stop")),
        Command("cq.worker.restart", "stop, then start the worker", a.NoArgs, _worker("restart")),
        Command("cq.queue.list", "jobs, optionally by state", a.QueueListArgs, _queue_list),
        Command("cq.queue.add", "queue files", a.PathsArgs, _queue_add),
        Command("cq.queue.remove", "forget files and their jobs", a.PathsArgs, _queue_remove),
        Command("cq.queue.clear", "drop queued jobs", a.NoArgs, _queue_clear),
        Command("cq.queue.retry", "queue failed jobs again", a.NoArgs, _queue_retry),
        Command("cq.queue.cleanup", "forget jobs of deleted files", a.NoArgs, _queue_cleanup),
        Command("cq.queue.history", "recent queue operations", a.HistoryArgs, _queue_history),
        Command(
            "cq.hooks.install",
            "install the git hooks",
            a.NoArgs,
            _hooks(githooks.install_hooks, r.HooksChanged),
        ),
        Command(
            "cq.hooks.uninstall",
            "remove the git hooks",
            a.NoArgs,
            _hooks(githooks.uninstall_hooks, r.HooksChanged),
        ),
        Command(
            "cq.hooks.status",
            "what is installed where",
            a.NoArgs,
            _hooks(githooks.hooks_status, r.HooksStatus),
        ),
    )
}
