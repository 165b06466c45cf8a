"""The command line: parses arguments and hands each command to cq_lsp.cli.commands.

Kept import-light: ``cq-lsp search`` must answer in well under 150 ms, so nothing here imports
huey, rich, tree-sitter or pygls at module level.
"""

from __future__ import annotations

import argparse
import os
import sys
from collections.abc import Callable, Sequence
from typing import Any

from cq_lsp import __version__
from cq_lsp.cli.output import error
from cq_lsp.errors import EXIT_USAGE, CqLspError
from cq_lsp.store import db as store_db


class _Parser(argparse.ArgumentParser):
    def error(self, message: str) -> None:  # type: ignore[override]
        self.print_usage(sys.stderr)
        sys.stderr.write(f"cq-lsp: error: {message}\n  hint: `cq-lsp --help` lists the commands\n")
        raise SystemExit(EXIT_USAGE)


def build_parser() -> argparse.ArgumentParser:
    def options(suppress: bool) -> _Parser:
        # Global options work before or after the command. In a subcommand their default is
        # SUPPRESS, or argparse would overwrite a value given before the command with None.
        parent = _Parser(add_help=False)
        kw: dict[str, Any] = {"default": argparse.SUPPRESS} if suppress else {}
        parent.add_argument(
            "--root",
            metavar="DIR",
            **kw,
            help="the git work tree (default: the one around the current dir)",
        )
        parent.add_argument(
            "--json",
            action="store_true",
            **kw,
            help="machine-readable result on stdout, nothing else on stdout",
        )
        return parent

    common = options(suppress=True)
    p = _Parser(
        prog="cq-lsp",
        parents=[options(suppress=False)],
        description="Keep a searchable documentation index of a git repository fresh.",
    )
    p.add_argument("--version", action="version", version=f"cq-lsp {__version__}")
    sub = p.add_subparsers(dest="command", metavar="COMMAND", parser_class=_Parser)

    def cmd(name: str, help_: str) -> argparse.ArgumentParser:
        return sub.add_parser(name, help=help_, parents=[common], description=help_)

    s = cmd("init", "create .code-query/ and its config")
    s.add_argument("--dataset", metavar="NAME", help="dataset name (default: the folder name)")
    s.add_argument("--hooks", action="store_true", help="also install the git hooks")

    s = cmd("index", "queue every tracked file (or PATHs) for documentation")
    s.add_argument("paths", nargs="*", metavar="PATH")
    s.add_argument("--wait", action="store_true", help="show progress until the queue is done")
    s.add_argument("-v", "--verbose", action="store_true", help="name every skipped file and why")

    s = cmd("search", "ranked results with snippets")
    s.add_argument("query", nargs="+")
    s.add_argument("--limit", type=int, default=10, metavar="N")
    s.add_argument("--explain", action="store_true", help="say why each result ranked")

    s = cmd("symbol", "definitions: exact, dotted (Class.method), prefix, fuzzy; path:line")
    s.add_argument("name", nargs="+")
    s.add_argument("--kind", metavar="K", help="only this kind (function, class, method, ...)")
    s.add_argument("--limit", type=int, default=20, metavar="N")

    s = cmd("eval", "search quality on this repository's own history and symbols")
    s.add_argument("--limit", type=int, default=200, metavar="N", help="questions per task")

    s = cmd("show", "one file's documentation")
    s.add_argument("path")

    cmd("status", "worker, queue and index in one view")

    w = cmd("worker", "start, stop or inspect the background worker")
    wsub = w.add_subparsers(dest="action", metavar="ACTION", required=True, parser_class=_Parser)
    for name, help_ in (
        ("start", "start the worker in the background"),
        ("stop", "stop the worker gracefully"),
        ("restart", "stop, then start the worker"),
        ("status", "the worker's state, pid, uptime, CPU and memory"),
        ("cleanup", "remove stale worker state files"),
    ):
        wsub.add_parser(name, help=help_, parents=[common])
    r = wsub.add_parser("run", help="run the worker in the foreground", parents=[common])
    r.add_argument("--threads", type=int, metavar="N")
    r.add_argument(
        "--idle-exit", type=float, metavar="S", help="exit after S idle seconds (0: never)"
    )
    lg = wsub.add_parser("logs", help="the worker's log", parents=[common])
    lg.add_argument("-n", type=int, default=20, metavar="N")
    lg.add_argument("--follow", "-f", action="store_true")

    q = cmd("queue", "inspect and control the documentation queue")
    qsub = q.add_subparsers(dest="action", metavar="ACTION", required=True, parser_class=_Parser)
    qsub.add_parser("status", help="counts and the oldest queued job", parents=[common])
    ql = qsub.add_parser(
        "list", help="jobs with state, sha, attempts, error, age", parents=[common]
    )
    ql.add_argument(
        "--state",
        action="append",
        choices=["queued", "delayed", "running", "done", "failed", "skipped"],
    )
    ql.add_argument("-n", "--limit", type=int, default=None, metavar="N")
    qa = qsub.add_parser("add", help="queue files", parents=[common])
    qa.add_argument("paths", nargs="+", metavar="PATH")
    qr = qsub.add_parser(
        "remove", help="forget files (their jobs and documentation)", parents=[common]
    )
    qr.add_argument("paths", nargs="+", metavar="PATH")
    qsub.add_parser("clear", help="drop queued jobs (running ones finish)", parents=[common])
    qp = qsub.add_parser(
        "process", help="document queued files in the foreground", parents=[common]
    )
    qp.add_argument("--batch-size", type=int, default=None, metavar="N")
    qsub.add_parser("cleanup", help="forget jobs whose files are gone", parents=[common])
    qh = qsub.add_parser("history", help="the audit trail (no contents)", parents=[common])
    qh.add_argument("-n", type=int, default=20, metavar="N")
    qsub.add_parser("watch", help="a live table until Ctrl-C", parents=[common])
    qsub.add_parser("retry", help="queue failed jobs again", parents=[common])

    c = cmd("config", "show, validate, migrate, get, set or trust the configuration")
    csub = c.add_subparsers(dest="action", metavar="ACTION", required=True, parser_class=_Parser)
    csub.add_parser(
        "show", help="the effective configuration and where each value comes from", parents=[common]
    )
    csub.add_parser("validate", help="check every configuration layer", parents=[common])
    csub.add_parser(
        "migrate",
        help="rewrite an older config.json as schema v2 (keeps a backup)",
        parents=[common],
    )
    cg = csub.add_parser("get", help="one value, e.g. processing.batch_size", parents=[common])
    cg.add_argument("key")
    cs = csub.add_parser("set", help="set a value in .code-query/config.json", parents=[common])
    cs.add_argument("key")
    cs.add_argument("value")
    csub.add_parser(
        "trust", help="allow this exact config.json to run processor.command", parents=[common]
    )

    h = cmd("hooks", "install, uninstall or inspect the git hooks")
    hsub = h.add_subparsers(dest="action", metavar="ACTION", required=True, parser_class=_Parser)
    hsub.add_parser("install", help="install (or upgrade) the hooks", parents=[common])
    hsub.add_parser("uninstall", help="remove our hooks, restore chained ones", parents=[common])
    hsub.add_parser("status", help="what is installed where", parents=[common])

    hk = cmd("hook", "what the git hook shims call (not meant to be run by hand)")
    hk.add_argument(
        "name",
        choices=["post-commit", "post-merge", "post-checkout", "post-rewrite", "post-index-change"],
    )
    hk.add_argument("hook_args", nargs="*", metavar="ARG")

    c = cmd("cache", "the documentation store shared by your work trees and clones")
    csub2 = c.add_subparsers(dest="action", metavar="ACTION", required=True, parser_class=_Parser)
    csub2.add_parser("status", help="size, records, where content goes", parents=[common])
    cp = csub2.add_parser("prune", help="drop least recently used records", parents=[common])
    cp.add_argument("--max-bytes", type=int, metavar="N", help="bound (default: cache.max_bytes)")

    pl = cmd("pool", "a documentation worker for other machines' cache misses")
    psub = pl.add_subparsers(dest="action", metavar="ACTION", required=True, parser_class=_Parser)
    pr = psub.add_parser("run", help="serve pool requests in the foreground", parents=[common])
    pr.add_argument("--url", metavar="URL", help="the pool's Redis (default: pool.url)")
    pr.add_argument("--threads", type=int, default=2, metavar="N")

    cmd("doctor", "check the installation, the repository and the worker, and say what to fix")

    sv = cmd("serve", "run the language server (the same as `cq-lsp --stdio`)")
    sv.add_argument("--stdio", action="store_true", help="talk LSP on stdin/stdout (default)")
    sv.add_argument("--tcp", action="store_true", help="listen on a TCP port")
    sv.add_argument("--host", default="127.0.0.1")
    sv.add_argument("--port", type=int, default=2087)
    sv.add_argument("--log-level", default=None, metavar="LEVEL")

    # Not `cmd()`: --root may be given several times here (one MCP server, several work trees).
    mc = sub.add_parser(
        "mcp",
        help="MCP server for agents (stdio by default)",
        description="Serve the documentation index to agents over the Model Context Protocol.",
    )
    mc.add_argument(
        "--root",
        dest="roots",
        action="append",
        metavar="DIR",
        help="a work tree to serve; repeat for several (default: the one around the current dir)",
    )
    mc.add_argument("--http", action="store_true", help="streamable HTTP instead of stdio")
    mc.add_argument("--host", default="127.0.0.1", help="HTTP address (default 127.0.0.1)")
    mc.add_argument("--port", type=int, default=8765, help="HTTP port (default 8765; 0: any)")

    return p


def _cmd_mcp(args: argparse.Namespace) -> int:
    from cq_lsp.mcp.server import run_mcp

    roots = args.roots or [args.root]
    return run_mcp(roots, http=args.http, host=args.host, port=args.port)


#: commands whose implementation lives outside cq_lsp.cli.commands (one concern per module).
def _handler(command: str) -> Callable[[argparse.Namespace], int]:
    """The function that runs ``command``. Its module is imported only when it runs: `cq-lsp
    search` must not pay for the worker's, the hooks' or the language server's imports."""
    if command == "mcp":
        return _cmd_mcp
    if command in ("search", "symbol"):
        from cq_lsp.cli import search

        return search.cmd_search if command == "search" else search.cmd_symbol
    if command == "eval":
        from cq_lsp.cli.evaluate import cmd_eval

        return cmd_eval
    if command == "hook":
        from cq_lsp.cli.hooks import cmd_hook

        return cmd_hook
    if command in ("cache", "pool"):
        from cq_lsp.cli import cache

        return cache.cmd_cache if command == "cache" else cache.cmd_pool
    if command == "doctor":
        from cq_lsp.cli.doctor import cmd_doctor

        return cmd_doctor
    from cq_lsp.cli import commands

    handlers: dict[str, Callable[[argparse.Namespace], int]] = {
        "init": commands.cmd_init,
        "index": commands.cmd_index,
        "show": commands.cmd_show,
        "status": commands.cmd_status,
        "worker": commands.cmd_worker,
        "queue": commands.cmd_queue,
        "config": commands.cmd_config,
        "hooks": commands.cmd_hooks,
    }
    return handlers[command]


def _serve_argv(argv: Sequence[str]) -> list[str] | None:
    """`cq-lsp --stdio`, `--tcp ...` and `serve ...` start the language server (its own parser)."""
    args = list(argv)
    if args and args[0] == "serve":
        return args[1:]
    if args and args[0] in ("--stdio", "--tcp"):
        return args
    return None


def main(argv: Sequence[str] | None = None) -> int:
    argv = list(sys.argv[1:] if argv is None else argv)
    serve = _serve_argv(argv)
    if serve is not None:
        from cq_lsp.lsp.main import main as serve_main

        return serve_main(serve)
    parser = build_parser()
    args = parser.parse_args(argv)
    if not args.command:
        parser.print_help(sys.stderr)
        return EXIT_USAGE
    # A command that ends in moments may read index.db exclusively on a full disk; the
    # long-lived processes started from here (worker, pool, MCP) must not.
    store_db.READ_EXCLUSIVE_WHEN_FULL = args.command not in ("worker", "pool", "mcp")
    handler = _handler(args.command)
    try:
        code = int(handler(args) or 0)
        sys.stdout.flush()  # a closed pipe shows here, not in the interpreter's last flush
        return code
    except BrokenPipeError:
        # The reader went away (`cq-lsp show … | head`): what it wanted, it got. Later
        # writes, and the interpreter's final flush, go nowhere instead of raising again.
        devnull = os.open(os.devnull, os.O_WRONLY)
        os.dup2(devnull, sys.stdout.fileno())
        return 0
    except CqLspError as exc:
        error(exc, args.json)
        return exc.exit_code
    except KeyboardInterrupt:
        sys.stderr.write("cq-lsp: interrupted\n")
        return 130
