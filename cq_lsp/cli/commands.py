"""The CLI's commands: thin wrappers that call the core and print its result."""

from __future__ import annotations

import argparse
import shutil
import sys
import time
from pathlib import Path
from typing import Any

from cq_lsp.cli.hooks import print_changes, print_hooks_status
from cq_lsp.cli.output import (
    ellipsize,
    emit_json,
    fmt_age,
    print_status,
    print_worker,
    stale_note,
    style,
    worker_line,
)
from cq_lsp.cli.session import CliSession, open_workspace
from cq_lsp.commands import results as r
from cq_lsp.commands.table import COMMANDS
from cq_lsp.config import edit, load, schema
from cq_lsp.config.trust import trust_repo_config
from cq_lsp.core import editor_env, freshness, logs
from cq_lsp.core.actions import worker_cleanup
from cq_lsp.core.autostart import start_ahead
from cq_lsp.core.follow import wait_for_queue
from cq_lsp.core.runner import document_queued
from cq_lsp.core.status import build_status, queue_part
from cq_lsp.core.supervisor import worker_status
from cq_lsp.core.workspace import Workspace
from cq_lsp.errors import UsageError
from cq_lsp.store.db import QUEUE_FREE_SHARE, truncate_wal
from cq_lsp.store.documentation import file_count, optimize
from cq_lsp.worker.consumer import run_worker
from cq_lsp.worktree.project import Project, open_project


def _workspace(args: argparse.Namespace) -> Workspace:
    return open_workspace(args.root)


def _run(name: str, args: argparse.Namespace, session: CliSession | None = None, **raw: Any) -> Any:
    """Run a command of the shared table for this work tree, as the language server does."""
    return COMMANDS[name](session or CliSession(args.root), {"root": args.root, **raw})


# -- init, index, search, show, status ------------------------------------------------------------


def cmd_init(args: argparse.Namespace) -> int:
    result: r.InitResult = _run("cq.init", args, dataset=args.dataset, hooks=args.hooks)
    if args.json:
        emit_json(result)
    else:
        print(f"{'created' if result.created else 'kept existing'} {result.config}")
        if result.hooks is not None:
            print_changes(result.hooks)
        print("next: `cq-lsp index --wait` documents every tracked file")
    return 0


def cmd_index(args: argparse.Namespace) -> int:
    ws = _workspace(args)
    try:
        return _index(ws, args)
    except KeyboardInterrupt:
        # Each job commits in one transaction and queued jobs are in the ledger, which a worker
        # re-sends if they never reached the queue: stopping here loses nothing.
        left = ws.ledger.counts()
        sys.stderr.write(
            f"\ncq-lsp: stopped following; {left['queued']} job(s) stay queued and "
            f"{left['running']} running — nothing is half-done (`cq-lsp status` shows progress)\n"
        )
        return 130


def _index(ws: Workspace, args: argparse.Namespace) -> int:
    session = CliSession(args.root, ws)
    early = start_ahead(ws) if args.wait and not args.paths else None
    result: r.IndexResult = _run("cq.index", args, session, paths=list(args.paths))
    if not args.json:
        out = sys.stderr if args.wait else sys.stdout
        print(
            f"{result.queued} queued, {result.unchanged} unchanged, {result.removed} removed, "
            f"{result.skipped} skipped",
            file=out,
        )
        _print_refused(result.refused, verbose=args.verbose)
        if result.note and not args.wait:
            print(result.note)
    if args.wait:
        counts = ws.ledger.counts()
        if counts["queued"] or counts["running"] or early is not None:
            result.wait = _wait(ws, args, early)
    if args.json:
        emit_json(result)
    if result.missing and len(result.missing) == len(args.paths):
        return 1  # every path named was a typo: nothing was done
    return 1 if isinstance(result.wait, r.Waited) and result.wait.newly_failed else 0


def _print_refused(refused: list[r.Refused], *, verbose: bool) -> None:
    """A path named that does not exist is an error, said each time; files the guard skips
    (binary, too large, excluded…) are the same on every re-index: one line by reason."""
    skipped = [x for x in refused if x.reason != "missing"]
    for x in refused:
        if x.reason == "missing" or verbose:
            hint = f" — {x.hint}" if x.hint and x.reason == "missing" else ""
            print(
                f"  {'error' if x.reason == 'missing' else 'skipped'} {x.message}{hint}",
                file=sys.stderr,
            )
    if skipped and not verbose:
        by_reason: dict[str, int] = {}
        for x in skipped:
            by_reason[x.reason] = by_reason.get(x.reason, 0) + 1
        reasons = ", ".join(
            f"{n} {why}" for why, n in sorted(by_reason.items(), key=lambda x: -x[1])
        )
        print(
            f"  skipped {len(skipped)}: {reasons} (`--verbose` or "
            "`cq-lsp queue list --state skipped` names them)",
            file=sys.stderr,
        )


#: Files documented by one `index --wait` above which the FTS5 index is merged (optimize) even in a
#: large repository: below it, merging all of CPython's Lib/ costs more than it saves.
OPTIMIZE_AFTER = 200


def _wait(
    ws: Workspace, args: argparse.Namespace, since: tuple[dict[str, Any], float] | None = None
) -> r.Waited:

    if ws.config.processing.mode == "manual":
        # An explicit --wait is a request to finish now: document in the foreground.
        outcome = process_foreground(ws, batch_size=None, show_progress=not args.json)
    else:
        outcome = r.from_json(
            r.Waited, wait_for_queue(ws, show_progress=not args.json, since=since)
        )
    # A big batch, or most of a small repository (a first index of gin's 130 files left a fifth
    # of index.db free and its FTS5 segments unmerged): merge and give the free pages back.
    if outcome.documented >= min(OPTIMIZE_AFTER, file_count(ws.db) // 2 + 1):
        optimize(ws.db)
    if outcome.documented:
        # The burst grew queue.db's -wal; the worker truncates it too once idle, if it gets there.
        truncate_wal(ws.project.queue_db, vacuum_free_share=QUEUE_FREE_SHARE)
    if not args.json:
        rate = f" ({outcome.files_per_s} files/s)" if outcome.files_per_s else ""
        print(f"documented {outcome.documented} file(s) in {outcome.elapsed_s} s{rate}")
        if outcome.newly_failed:
            print(
                style(f"{outcome.newly_failed} failed", "31")
                + " — `cq-lsp queue list --state failed` shows why"
            )
    return outcome


def process_foreground(ws: Workspace, *, batch_size: int | None, show_progress: bool) -> r.Waited:
    """Document queued jobs in this process, with a progress bar for people."""

    total = ws.ledger.counts()["queued"]
    if not (show_progress and sys.stderr.isatty() and total):
        return r.from_json(r.Waited, document_queued(ws, batch_size=batch_size))
    from rich.progress import BarColumn, MofNCompleteColumn, Progress, TextColumn

    with Progress(TextColumn("[bold]documenting"), BarColumn(), MofNCompleteColumn()) as bar:
        task = bar.add_task("process", total=total)
        outcome = document_queued(
            ws, batch_size=batch_size, on_batch=lambda n: bar.update(task, advance=n)
        )
    return r.from_json(r.Waited, outcome)


def cmd_hooks(args: argparse.Namespace) -> int:
    result: r.HooksChanged | r.HooksStatus = _run(f"cq.hooks.{args.action}", args)
    if args.json:
        emit_json(result)
    elif isinstance(result, r.HooksStatus):
        print_hooks_status(result)
    else:
        print_changes(result)
    return 1 if isinstance(result, r.HooksChanged) and result.conflicts else 0


_SHOW_ENTRIES = 60


def _line_tag(info: object) -> str:
    """``  L1101`` for an entry that knows its line, empty otherwise."""
    line = info.get("line") if isinstance(info, dict) else None
    return f"  L{line}" if isinstance(line, int) and line > 0 else ""


def cmd_show(args: argparse.Namespace) -> int:
    ws = _workspace(args)
    # Not through the table's argument parsing: a non-UTF-8 file name must reach the guard as
    # the surrogate-escaped str argv gave us.
    found = ws.show(args.path, base=Path.cwd())
    stale = freshness.annotate(ws, [found])
    freshness.queue_stale_answers(ws, stale, source="cli")
    record = r.from_json(r.FileRecord, found)
    if args.json:
        emit_json(record)
        return 0
    print(style(record.path, "1") + f"  [{record.language}] {record.processor}")
    if record.stale:
        print(style(f"  {stale_note(record)}", "33"))
    print(f"  {record.overview}")
    sections = (
        ("functions", "functions"),
        ("types_interfaces_classes", "types"),
        ("constants", "constants"),
        ("exports", "exports"),
        ("imports", "imports"),
    )
    for key, title in sections:
        value = getattr(record, key) or {}
        if not value:
            continue
        print(style(f"{title}:", "1"))
        items = list(value.items())
        for name, info in items[:_SHOW_ENTRIES]:
            if isinstance(info, dict):
                sig = info.get("signature") or info.get("kind") or ""
                print(f"  {name}{_line_tag(info)}  {sig}")
                doc = info.get("doc")
                if doc:
                    print(f"      {doc}")
                # Every method: a class's API is what a reader opens `show` for.
                for mname, minfo in (info.get("methods") or {}).items():
                    msig = minfo.get("signature", "") if isinstance(minfo, dict) else minfo
                    print(f"    .{mname}{_line_tag(minfo)}  {msig}")
            else:
                print(
                    f"  {name}  {info if not isinstance(info, list) else ', '.join(map(str, info))}"
                )
        if len(items) > _SHOW_ENTRIES:
            print(f"  … and {len(items) - _SHOW_ENTRIES} more {title} (--json lists them all)")
    listed = {n for key, _t in sections for n in (getattr(record, key) or {})}
    other = [s for s in record.symbols if isinstance(s, dict) and s.get("name") not in listed]
    if other and not (record.functions or record.types_interfaces_classes):
        # Config and markup (headings, keys, targets) and definitions outside the fields above.
        print(style("symbols:", "1"))
        for sym in other[:_SHOW_ENTRIES]:
            where = f"{sym.get('container')} › " if sym.get("container") else ""
            print(f"  {where}{sym.get('name')}{_line_tag(sym)}  [{sym.get('kind')}]")
        if len(other) > _SHOW_ENTRIES:
            print(f"  … and {len(other) - _SHOW_ENTRIES} more symbols (--json lists them all)")
    if record.dependencies:
        print(style("dependencies:", "1") + " " + ", ".join(record.dependencies))
    for note in record.other_notes or []:
        print(f"  note: {note}")
    print(
        style(
            f"sha {record.content_sha} · documented {record.documented_at} at commit "
            f"{(record.documented_at_commit or '-')[:12]}",
            "2",
        )
    )
    return 0


def cmd_status(args: argparse.Namespace) -> int:
    ws = _workspace(args)
    st = r.from_json(r.Status, build_status(ws, catch_up=True))
    if args.json:
        emit_json(st)
    else:
        print_status(st)
    return 0


# -- worker -------------------------------------------------------------------------------------


def cmd_worker(args: argparse.Namespace) -> int:

    if args.action == "run":
        project = open_project(args.root)
        project.require_initialized()
        project.ensure_state_dir()
        logs.log_to_rotating_file(project.worker_log)
        editor, trusted = editor_env.decode(project.root)
        ws = Workspace(project, live=True, editor_settings=editor, editor_trusted=trusted)
        return run_worker(ws, threads=args.threads, idle_exit_s=args.idle_exit)
    if args.action == "logs":
        return _worker_logs(open_project(args.root), args)
    result: Any
    if args.action in ("start", "stop", "restart"):
        result = _run(f"cq.worker.{args.action}", args)
        if not args.json:
            print_worker(args.action, result)
    elif args.action == "status":
        ws = _workspace(args)
        interval = ws.config.processing.worker_check_interval
        result = r.from_json(r.WorkerPart, worker_status(ws.project, interval))
        if not args.json:
            print(f"worker {worker_line(result)}")
    else:
        result = worker_cleanup(open_project(args.root))
        if not args.json:
            removed = result["removed"]
            print("removed " + ", ".join(removed) if removed else "nothing to clean up")
    if args.json:
        emit_json(result)
    return 0


def _worker_logs(project: Project, args: argparse.Namespace) -> int:
    log = project.worker_log
    if not log.exists():
        print(f"no worker log yet ({log})", file=sys.stderr)
        return 0
    for line in logs.tail_lines(log, args.n):
        print(line)
    if args.follow:
        try:
            for line in logs.follow(log):
                sys.stdout.write(line)
                sys.stdout.flush()
        except KeyboardInterrupt:
            return 0
    return 0


# -- queue --------------------------------------------------------------------------------------


def cmd_queue(args: argparse.Namespace) -> int:
    ws = _workspace(args)
    session = CliSession(args.root, ws)
    action = args.action
    result: Any
    if action == "status":
        q = r.from_json(r.QueuePart, queue_part(ws))
        result = q
        if not args.json:
            print(
                f"{q.queued} queued · {q.running} running · {q.failed} failed · {q.done} done · "
                f"{q.skipped} skipped · oldest queued {fmt_age(q.oldest_queued_s)}"
                + (f" · {q.delayed} delayed" if q.delayed else "")
            )
    elif action == "list":
        state = list(args.state) if args.state else None
        result = _run("cq.queue.list", args, session, state=state, limit=args.limit)
        if not args.json:
            _print_jobs(result.jobs)
    elif action == "add":
        added: r.IndexResult = _run("cq.queue.add", args, session, paths=list(args.paths))
        result = added
        if not args.json:
            print(
                f"{added.queued} queued, {added.unchanged} unchanged, "
                f"{added.removed} removed, {added.skipped} skipped"
                + (f" — {added.note}" if added.note else "")
            )
            for x in added.refused:
                print(
                    f"  refused {x.message}" + (f" ({x.hint})" if x.hint else ""),
                    file=sys.stderr,
                )
        if added.refused and not added.queued and not added.unchanged:
            if args.json:
                emit_json(added)
            return 1
    elif action == "remove":
        result = _run("cq.queue.remove", args, session, paths=list(args.paths))
        if not args.json:
            print(f"removed {result.removed} job(s) and their documentation")
    elif action == "clear":
        result = _run("cq.queue.clear", args, session)
        if not args.json:
            print(f"cleared {result.cleared} queued job(s); running jobs finish")
    elif action == "retry":
        result = _run("cq.queue.retry", args, session)
        if not args.json:
            print(f"{result.queued} failed job(s) queued again")
    elif action == "cleanup":
        result = _run("cq.queue.cleanup", args, session)
        if not args.json:
            print(f"removed {result.removed} job(s) whose files are gone")
    elif action == "history":
        result = _run("cq.queue.history", args, session, n=args.n)
        if not args.json:
            for h in reversed(result.history):
                print(f"{h.at}  {h.op:<16} {h.count:>6}  {h.source or '':<8} {h.detail or ''}")
    elif action == "process":
        if args.batch_size is not None and not 1 <= args.batch_size <= 1000:
            raise UsageError(f"--batch-size must be from 1 to 1000, got {args.batch_size}")
        result = process_foreground(ws, batch_size=args.batch_size, show_progress=not args.json)
        if not args.json:
            print(f"documented {result.documented} file(s) in {result.elapsed_s} s")
    elif action == "watch":
        return _watch(ws)
    else:  # pragma: no cover
        raise UsageError(f"unknown queue action {action}")
    if args.json:
        emit_json(result)
    return 0


def _print_jobs(jobs: list[r.Job]) -> None:
    """One line per job, fitted to the terminal: long paths lose their middle, not their name."""
    if not jobs:
        print("no jobs")
        return
    width = max(60, shutil.get_terminal_size((100, 24)).columns)
    colors = {"failed": "31", "queued": "33", "delayed": "36", "running": "36", "skipped": "2"}
    rows = []
    for j in jobs:
        when = f"due {j.due_at[11:19]}" if j.due_at else fmt_age(j.age_s)
        rows.append((j.state, j.path, (j.sha or "-")[:7], str(j.attempts), when, j))
    when_w = max(3, max(len(r[4]) for r in rows))
    fixed = 8 + 1 + 1 + 7 + 1 + 5 + 1 + when_w + 1  # every column but path and error
    longest = max(len(r[1]) for r in rows)
    has_error = any(row[5].error for row in rows)
    room = width - fixed
    path_w = max(12, min(longest, room * 3 // 5 if has_error else room))
    error_w = max(8, room - path_w)
    print(f"{'state':<8} {'path':<{path_w}} {'sha':<7} {'tries':>5} {'age':<{when_w}} error")
    for state, path, sha, tries, when, j in rows:
        error = ellipsize(_own_error(j.error or "", j.path), error_w, end=True)
        line = (
            f"{style(f'{state:<8}', colors.get(state, '0'))} {ellipsize(path, path_w):<{path_w}} "
            f"{sha:<7} {tries:>5} {when:<{when_w}} {error}"
        )
        print(line.rstrip())


def _own_error(error: str, path: str) -> str:
    """The error without the path the row already shows (messages start with it)."""
    for prefix in (f"{path}: ", f"{path} "):
        if error.startswith(prefix):
            return error[len(prefix) :]
    return error


def _watch(ws: Workspace) -> int:
    from rich.live import Live
    from rich.table import Table

    def render() -> Table:
        st = r.from_json(r.Status, build_status(ws))
        q = st.queue
        t = Table(title=f"cq-lsp · {st.root} · {st.message}", box=None)
        for col in ("queued", "running", "failed", "done", "skipped", "oldest"):
            t.add_column(col)
        t.add_row(
            str(q.queued),
            str(q.running),
            str(q.failed),
            str(q.done),
            str(q.skipped),
            fmt_age(q.oldest_queued_s),
        )
        for j in ws.ledger.jobs(states=["running", "queued"], limit=10):
            t.add_row(j["state"], j["path"], "", "", "", fmt_age(j["ageS"]))
        return t

    try:
        with Live(render(), refresh_per_second=4) as live:
            while True:
                time.sleep(0.5)
                live.update(render())
    except KeyboardInterrupt:
        return 0


# -- config -------------------------------------------------------------------------------------


def _flatten(value: Any, prefix: str = "") -> list[tuple[str, Any]]:
    if isinstance(value, dict) and value:
        out: list[tuple[str, Any]] = []
        for k, v in value.items():
            out += _flatten(v, f"{prefix}.{k}" if prefix else k)
        return out
    return [(prefix, value)]


def _print_config(config: dict[str, Any], sources: dict[str, str], repo_file: Path) -> None:
    """Each setting, its value and the layer it comes from (default, user, repo, env, editor)."""
    import json

    rows = [(key, json.dumps(v, ensure_ascii=False)) for key, v in _flatten(config)]
    key_w = max(len(k) for k, _ in rows)
    val_w = min(40, max(len(v) for _, v in rows))
    for key, value in rows:
        source = sources.get(key) or next(
            (sources[p] for p in sorted(sources, key=len, reverse=True) if key.startswith(p + ".")),
            "default",
        )
        shown = ellipsize(value, val_w, end=True)
        print(
            f"{key:<{key_w}}  {shown:<{val_w}}  "
            + (style(source, "2") if source == "default" else source)
        )
    print(style(f"repo = {repo_file}; --json gives the values and their sources", "2"))


def cmd_config(args: argparse.Namespace) -> int:

    project = open_project(args.root)
    action = args.action
    result: Any
    if action == "show":
        loaded = load.load_config(project.root)
        result = {
            "config": schema.to_dict(loaded.config),
            "sources": loaded.sources,
            "warnings": loaded.warnings,
            "file": str(loaded.repo_file),
        }
        if not args.json:
            _print_config(result["config"], loaded.sources, loaded.repo_file)
            for w in loaded.warnings:
                print(f"warning: {w}", file=sys.stderr)
    elif action == "validate":
        loaded = load.load_config(project.root)
        result = {"valid": True, "warnings": loaded.warnings}
        if not args.json:
            print(
                f"{loaded.repo_file}: valid"
                + ("" if not loaded.warnings else "\n" + "\n".join(loaded.warnings))
            )
    elif action == "migrate":
        m = edit.migrate_file(project.root)
        result = {
            "from_version": m.from_version,
            "changed": m.changed,
            "backup": str(m.backup_path) if m.backup_path else None,
        }
        if not args.json:
            print(
                f"migrated from v{m.from_version} (backup: {m.backup_path})"
                if m.changed
                else f"already schema v{m.from_version}; nothing to do"
            )
    elif action == "get":
        value = edit.get_key(load.load_config(project.root).config, args.key)
        result = {"key": args.key, "value": value}
        if not args.json:
            import json

            print(value if isinstance(value, str) else json.dumps(value))
    elif action == "set":
        value = edit.set_key(project.root, args.key, args.value)
        result = {"key": args.key, "value": value}
        if not args.json:
            import json

            print(f"{args.key} = {json.dumps(value, ensure_ascii=False)}")
    elif action == "trust":
        digest = trust_repo_config(project.root)
        result = {"trusted": True, "sha256": digest}
        if not args.json:
            print(
                f"trusted {project.config_file} (sha256 {digest[:16]}…); "
                "an edited file needs trusting again"
            )
    else:  # pragma: no cover
        raise UsageError(f"unknown config action {action}")
    if args.json:
        emit_json(result)
    return 0
