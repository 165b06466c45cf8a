"""`cq-lsp doctor`: check the installation, the repository and the worker, and say what to fix.

Each check is a small function returning one ``Check``; a check that crashes is itself reported
(never a traceback). Exit status 1 when any check is an error, 0 otherwise (warnings included).
"""

from __future__ import annotations

import argparse
import importlib
import os
import shutil
import sqlite3
import subprocess
import sys
from collections.abc import Callable
from typing import Any

from cq_lsp import __version__
from cq_lsp.cli.output import emit_json, style
from cq_lsp.config.load import load_config
from cq_lsp.core import freshness
from cq_lsp.core.pool import pool_summary
from cq_lsp.core.sharing import where_content_goes
from cq_lsp.core.supervisor import worker_status
from cq_lsp.core.workspace import Workspace
from cq_lsp.errors import CqLspError, IndexError_
from cq_lsp.githooks.install import hooks_status
from cq_lsp.store.cache import local_store
from cq_lsp.store.db import Database
from cq_lsp.store.team import connect
from cq_lsp.worktree.project import open_project

OK, WARNING, ERROR = "ok", "warning", "error"

#: import name -> why cq-lsp needs it (shown when it is missing).
REQUIRED_MODULES = {
    "pygls": "the language server",
    "lsprotocol": "the language server's protocol types",
    "huey": "the queue between producers and the worker",
    "psutil": "recognising and measuring the worker",
    "attrs": "configuration classes",
    "cattrs": "configuration validation",
    "pathspec": ".gitignore and exclude_patterns",
    "platformdirs": "the user's config and data dirs",
    "rich": "progress bars and tables",
    "tree_sitter": "the static documenter",
    "tree_sitter_python": "Python parsing",
    "tree_sitter_javascript": "JavaScript parsing",
    "tree_sitter_typescript": "TypeScript parsing",
    "tree_sitter_go": "Go parsing",
    "tree_sitter_rust": "Rust parsing",
    "tree_sitter_java": "Java parsing",
}
MIN_FREE_BYTES = 200 * 1024 * 1024


class Check:
    def __init__(self, name: str, status: str, detail: str, hint: str | None = None) -> None:
        self.name, self.status, self.detail, self.hint = name, status, detail, hint

    def to_dict(self) -> dict[str, Any]:
        return {"name": self.name, "status": self.status, "detail": self.detail, "hint": self.hint}


class Doctor:
    def __init__(self, root: str | None) -> None:
        self.root_arg = root
        self.project: Any = None
        self.ws: Any = None

    # -- installation ---------------------------------------------------------------------------

    def python(self) -> Check:
        v = sys.version_info
        detail = f"cq-lsp {__version__} on Python {v.major}.{v.minor}.{v.micro} ({sys.executable})"
        if v < (3, 10):
            return Check("python", ERROR, detail, "cq-lsp needs Python 3.10 or newer")
        return Check("python", OK, detail)

    def modules(self) -> Check:
        missing = []
        for name, why in REQUIRED_MODULES.items():
            try:
                importlib.import_module(name)
            except Exception as exc:
                missing.append(f"{name} ({why}): {type(exc).__name__}")
        if missing:
            return Check(
                "dependencies",
                ERROR,
                "cannot import " + "; ".join(missing),
                f"reinstall: {sys.executable} -m pip install --force-reinstall cq-lsp",
            )
        return Check("dependencies", OK, f"{len(REQUIRED_MODULES)} modules import")

    def git(self) -> Check:
        exe = shutil.which("git")
        if exe is None:
            return Check("git", ERROR, "git is not on PATH", "install git (apt install git)")
        out = subprocess.run([exe, "--version"], capture_output=True, text=True, check=False)
        return Check("git", OK, out.stdout.strip() or exe)

    # -- the repository -------------------------------------------------------------------------

    def work_tree(self) -> Check:

        try:
            self.project = open_project(self.root_arg)
        except CqLspError as exc:
            return Check("work tree", ERROR, exc.message, exc.hint)
        if not self.project.initialized:
            return Check(
                "work tree",
                WARNING,
                f"{self.project.root} has no .code-query/ yet",
                "run `cq-lsp init` (then `cq-lsp index --wait`)",
            )
        return Check("work tree", OK, str(self.project.root))

    def config(self) -> Check:
        if not self._initialized():
            return Check("config", WARNING, "skipped (not initialized)")

        try:
            loaded = load_config(self.project.root)
        except CqLspError as exc:
            return Check("config", ERROR, str(exc).replace("\n", " "), exc.hint)
        cfg = loaded.config
        detail = (
            f"processor {cfg.processor.kind}, mode {cfg.processing.mode}, queue {cfg.queue.backend}"
        )
        if loaded.warnings:
            return Check("config", WARNING, detail + "; " + "; ".join(loaded.warnings))
        return Check("config", OK, detail)

    def documenter(self) -> Check:
        if not self._initialized():
            return Check("documenter", WARNING, "skipped (not initialized)")

        try:
            loaded = load_config(self.project.root)
        except CqLspError:
            return Check("documenter", WARNING, "skipped (the configuration is invalid)")
        proc = loaded.config.processor
        if proc.kind == "static":
            return Check("documenter", OK, "static (offline tree-sitter analysis)")
        if not proc.command:
            return Check(
                "documenter",
                ERROR,
                "processor.kind is command but processor.command is empty",
                'set processor.command, e.g. ["claude", "-p"]',
            )
        program = proc.command[0]
        found = shutil.which(program)
        if not loaded.command_trusted:
            return Check(
                "documenter",
                ERROR,
                f"the command {program!r} comes from an untrusted config.json",
                loaded.untrusted_reason or "run `cq-lsp config trust`",
            )
        if found is None:
            return Check(
                "documenter",
                ERROR,
                f"{program!r} is not on PATH",
                "install it or give processor.command an absolute path",
            )
        return Check("documenter", OK, f"command {found} (timeout {proc.timeout_s:g} s)")

    def index(self) -> Check:
        if not self._initialized():
            return Check("index", WARNING, "skipped (not initialized)")
        path = self.project.index_db
        if not path.exists():
            return Check("index", WARNING, f"{path} does not exist yet", "run `cq-lsp index`")
        try:
            db = Database(path, readonly=True)
            try:
                verdict, files = db.integrity_check()
            finally:
                db.close()
        except (sqlite3.Error, IndexError_) as exc:
            return Check(
                "index",
                ERROR,
                exc.message if isinstance(exc, IndexError_) else f"{path}: {exc}",
                "any cq-lsp command moves a corrupt index aside and rebuilds it",
            )
        if verdict != "ok":
            return Check("index", ERROR, f"{path}: {verdict}", "run `cq-lsp index` to rebuild")
        return Check("index", OK, f"{files} file(s) documented, integrity ok")

    def freshness(self) -> Check:
        """The index against the work tree: changes no hook saw (reset, stash, an outside edit)."""
        if not self._initialized() or not self.project.index_db.exists():
            return Check("freshness", WARNING, "skipped (no index yet)")
        ws = self._workspace()
        found = freshness.check(ws)
        if found.error:
            return Check("freshness", WARNING, f"could not compare: {found.error}")
        took = f"checked in {found.elapsed_s * 1000:.0f} ms"
        if not found.count:
            return Check("freshness", OK, f"every documented file is current ({took})")
        shown = ", ".join(found.paths()[:3]) + (" …" if found.count > 3 else "")
        report = freshness.catch_up(ws, found)
        if report is not None and report.result.queued:
            return Check(
                "freshness",
                WARNING,
                f"{found.message().split(' — ')[0]} ({shown}); queued them now ({took})",
                "`cq-lsp status` shows them being documented",
            )
        return Check(
            "freshness",
            WARNING,
            f"{found.message().split(' — ')[0]} ({shown}; {took})",
            "run `cq-lsp index` (and `cq-lsp queue process` in manual mode)",
        )

    def queue(self) -> Check:
        if not self._initialized():
            return Check("queue", WARNING, "skipped (not initialized)")
        try:
            ws = self._workspace()
            counts = ws.ledger.counts()
            pending = ws.transport.pending_count()
        except CqLspError as exc:
            return Check("queue", ERROR, exc.message, exc.hint)
        except Exception as exc:
            backend = "Redis" if "redis" in type(exc).__module__ else "the queue"
            return Check(
                "queue",
                ERROR,
                f"cannot reach {backend}: {exc}",
                "check queue.url / CODEQUERY_QUEUE_URL and that the server runs",
            )
        detail = (
            f"{counts['queued']} queued, {counts['running']} running, {counts['failed']} "
            f"failed, {counts['done']} done; {pending} task(s) in the transport"
        )
        if counts["failed"]:
            return Check(
                "queue",
                WARNING,
                detail,
                "`cq-lsp queue list --state failed` shows why; `cq-lsp queue retry` retries",
            )
        if counts["queued"] and ws.config.processing.mode == "manual":
            return Check(
                "queue",
                WARNING,
                detail + " (manual mode)",
                "`cq-lsp worker start` or `cq-lsp queue process` documents them",
            )
        return Check("queue", OK, detail)

    def worker(self) -> Check:
        if not self._initialized():
            return Check("worker", WARNING, "skipped (not initialized)")

        ws = self._workspace()
        try:
            interval = ws.config.processing.worker_check_interval
            mode = ws.config.processing.mode
        except CqLspError:  # reported by the config check; judge the worker on defaults
            interval, mode = 5.0, "auto"
        st = worker_status(self.project, interval)
        state = st["state"]
        if state == "crashed":
            return Check(
                "worker",
                ERROR,
                f"crashed (last pid {st.get('lastPid')})",
                f"see {self.project.worker_log}; `cq-lsp worker cleanup` then `cq-lsp worker "
                "start`",
            )
        if state == "unresponsive":
            return Check(
                "worker",
                ERROR,
                f"pid {st['pid']} has not beaten its heartbeat",
                "`cq-lsp worker restart`",
            )
        if state == "stopped":
            counts = ws.ledger.counts()
            if counts["queued"] and mode == "auto":
                return Check(
                    "worker",
                    WARNING,
                    "stopped with work queued",
                    "`cq-lsp worker start` (the editor or the next hook also starts it)",
                )
            return Check("worker", OK, "stopped (starts when work arrives in auto mode)")
        return Check("worker", OK, f"{state}, pid {st['pid']}, up {st['uptimeS']} s")

    def hooks(self) -> Check:
        if self.project is None:
            return Check("git hooks", WARNING, "skipped (no work tree)")
        try:
            st = hooks_status(self.project.root)
        except Exception as exc:
            return Check("git hooks", WARNING, f"cannot inspect the hooks: {exc}")
        states = {h["name"]: h["state"] for h in st.get("hooks", [])}
        if st.get("installed"):
            return Check("git hooks", OK, f"installed in {st.get('hooksDir')}")
        if set(states.values()) == {"missing"}:
            return Check(
                "git hooks",
                WARNING,
                "not installed: commits made without an editor are not queued",
                "`cq-lsp hooks install`",
            )
        bad = ", ".join(
            f"{name}: {state}" for name, state in states.items() if state != "installed"
        )
        return Check("git hooks", WARNING, bad, "`cq-lsp hooks install` repairs and upgrades them")

    def disk(self) -> Check:
        if self.project is None:
            return Check("disk", WARNING, "skipped (no work tree)")
        target = self.project.state_dir if self.project.state_dir.exists() else self.project.root
        usage = shutil.disk_usage(target)
        free_mb = usage.free // (1024 * 1024)
        if usage.free < MIN_FREE_BYTES:
            return Check(
                "disk",
                ERROR,
                f"only {free_mb} MB free on the filesystem of {target}",
                "free some space: index.db and queue.db grow with the repository",
            )
        if not os.access(target, os.W_OK):
            return Check("disk", ERROR, f"{target} is not writable", "fix its permissions")
        return Check("disk", OK, f"{free_mb:,} MB free")

    # -- helpers --------------------------------------------------------------------------------

    def sharing(self) -> Check:
        """Where file content and records go (team store, pool), and whether they answer."""
        if not self._initialized():
            return Check("sharing", WARNING, "skipped (not initialized)")
        cfg = load_config(self.project.root).config
        where = where_content_goes(cfg)
        detail = "content goes to: " + where["summary"]
        if cfg.cache.local:
            stats = local_store(cfg.cache.max_bytes).stats()
            if stats.get("records") is None:
                return Check(
                    "sharing",
                    WARNING,
                    f"{detail}; the local store {stats['path']} cannot be read",
                    "see the worker log; `cq-lsp cache status` shows the store",
                )
            detail += f"; local store {stats['records']} record(s)"
        if where["teamStore"]:
            try:
                connect(cfg.cache.url or str(cfg.pool.url)).ping()
            except Exception as exc:
                return Check(
                    "sharing",
                    WARNING,
                    f"{detail}; team store {where['teamStore']} unreachable: {exc}",
                    "check cache.url / CODEQUERY_CACHE_URL and that Redis runs; documenting "
                    "goes on locally meanwhile",
                )
        if where["pool"]:
            pool = pool_summary(str(cfg.pool.url))
            if pool["error"] or not pool["workers"]:
                why = pool["error"] or "no pool worker is running"
                return Check(
                    "sharing",
                    WARNING,
                    f"{detail}; pool {pool['url']}: {why}",
                    "start one with `cq-lsp pool run --url URL` on the pool machine; "
                    "meanwhile files are documented locally",
                )
            detail += f"; pool {pool['workers']} worker(s)"
        return Check("sharing", OK, detail)

    def _initialized(self) -> bool:
        return self.project is not None and self.project.initialized

    def _workspace(self) -> Any:
        if self.ws is None:
            self.ws = Workspace(self.project)
        return self.ws

    def run(self) -> list[Check]:
        checks: list[Callable[[], Check]] = [
            self.python,
            self.modules,
            self.git,
            self.work_tree,
            self.config,
            self.documenter,
            self.index,
            self.freshness,
            self.queue,
            self.worker,
            self.hooks,
            self.sharing,
            self.disk,
        ]
        out = []
        for check in checks:
            name = check.__name__.replace("_", " ")
            try:
                out.append(check())
            except Exception as exc:  # a broken check is a finding, not a crash
                out.append(Check(name, ERROR, f"the check itself failed: {exc!r}"))
        return out


def cmd_doctor(args: argparse.Namespace) -> int:

    checks = Doctor(args.root).run()
    worst = (
        ERROR
        if any(c.status == ERROR for c in checks)
        else (WARNING if any(c.status == WARNING for c in checks) else OK)
    )
    if args.json:
        emit_json({"ok": worst != ERROR, "status": worst, "checks": [c.to_dict() for c in checks]})
    else:
        marks = {OK: style("✓", "32"), WARNING: style("!", "33"), ERROR: style("✗", "31")}
        for c in checks:
            print(f"{marks[c.status]} {c.name:<12} {c.detail}")
            if c.hint and c.status != OK:
                print(f"  {'':<12} → {c.hint}")
        summary = {OK: "all good", WARNING: "works, with warnings", ERROR: "needs fixing"}
        print(summary[worst])
    return 1 if worst == ERROR else 0
