"""`cq-lsp hook NAME` (what the shims call: kept light, it runs on every commit) and the
printing of `cq-lsp hooks install|uninstall|status` results."""

from __future__ import annotations

import argparse
import os
import sys
from typing import TYPE_CHECKING

from cq_lsp.cli.output import emit_json, style
from cq_lsp.errors import CqLspError
from cq_lsp.githooks import entry as hook_entry
from cq_lsp.githooks.install import DETACHED_ENV
from cq_lsp.worktree.project import open_project

if TYPE_CHECKING:
    # Type only: the shims run this module on every commit; the result classes cost ~20 ms.
    from cq_lsp.commands.results import HooksChanged, HooksStatus

_STATE_COLORS = {
    "installed": "32",
    "pre-commit": "32",
    "outdated": "33",
    "missing": "33",
    "python-gone": "31",
}


def print_changes(result: HooksChanged) -> None:
    print(f"hooks directory: {result.hooks_dir}")
    width = max((len(h.name) for h in result.hooks), default=0)
    for h in result.hooks:
        line = f"  {h.name:<{width}}  {h.action:<12} {h.path}"
        if h.chained and h.action == "chained":
            line += f"  (your hook runs after ours: {os.path.basename(h.chained)})"
        if h.restored:
            line += "  (your hook is back)"
        print(line)
        if h.message:
            print(f"    {h.message}", file=sys.stderr)
    for note in result.notes:
        print(f"note: {note}")
    if result.instructions:
        print(result.instructions)


def print_hooks_status(st: HooksStatus) -> None:
    where = st.hooks_dir + (f"  (core.hooksPath={st.hooks_path})" if st.hooks_path else "")
    print(f"hooks directory: {where}")
    if st.manager:
        print(f"hook manager:    {st.manager}")
    width = max((len(h.name) for h in st.hooks), default=0)
    for h in st.hooks:
        # Padded before it is coloured: escape codes are not columns.
        state = style(f"{h.state:<12}", _STATE_COLORS.get(h.state, "0"))
        extra = []
        if h.version is not None:
            extra.append(f"v{h.version}")
        if h.python:
            extra.append(h.python + ("" if h.python_exists else " (gone)"))
        if h.chained:
            extra.append(f"chains {os.path.basename(h.chained)}")
        if h.kind not in ("ours", "absent") and h.via == "hooks-dir":
            extra.append(f"occupied by a {h.kind} hook")
        print(f"  {h.name:<{width}}  {state} {h.path}  {' · '.join(extra)}".rstrip())
    if st.skipped:
        print("CQ_LSP_SKIP_HOOKS is set here: the hooks do nothing in this environment")
    if not st.initialized:
        print("this work tree has no .code-query/: the hooks queue nothing until `cq-lsp init`")
    if st.last_log:
        print(f"last log line ({st.log}):\n  {st.last_log}")
    if not st.installed:
        print("`cq-lsp hooks install` installs or upgrades them")


def cmd_hook(args: argparse.Namespace) -> int:
    """What the shims run. Exits 0 whatever happens: a hook must never fail a git command."""
    try:
        project = open_project(args.root)
    except CqLspError as exc:
        sys.stderr.write(f"cq-lsp hook {args.name}: nothing to do: {exc.message}\n")
        return 0
    if hook_entry.skip_requested():
        return 0
    name, hook_args = hook_entry.from_pre_commit(args.name, args.hook_args)
    if not project.initialized:
        sys.stderr.write(
            f"cq-lsp hook {name}: {project.root} has no .code-query/, so nothing was queued "
            "(run `cq-lsp init` there, or `cq-lsp hooks uninstall`)\n"
        )
        return 0
    if os.environ.get(DETACHED_ENV) == "1":
        result = hook_entry.run_detached_here(project, name, hook_args)
    else:
        try:
            result = hook_entry.spawn_detached(project, name, hook_args)
        except OSError as exc:
            sys.stderr.write(f"cq-lsp hook {name}: could not start: {exc}\n")
            return 0
    if args.json:
        emit_json(result)
    return 0
