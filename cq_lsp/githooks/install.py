"""Installing, upgrading, inspecting and removing the git hook shims.

Where the hooks go is git's answer to ``git rev-parse --git-path hooks``: it honours
``core.hooksPath`` and, in a linked worktree, names the hooks directory all worktrees share.

- A plain hooks directory gets our shims (``render_shim``). A hook that is already there and not
  ours keeps running: it is renamed ``<hook>.cq-lsp-chained`` and our shim runs it (with the same
  arguments and stdin, and its exit status); uninstall renames it back, so it is restored byte for
  byte. A shim of ours from an older version, or installed by another Python, is rewritten.
- husky owns ``core.hooksPath``: we add one marked line to ``.husky/<hook>`` that runs our shim
  from a private directory (``<git-common-dir>/cq-lsp/hooks``, never committed).
- lefthook runs the hooks from its configuration: we write our jobs into its local configuration
  file (or print them when that file already configures these hooks).
- pre-commit's own hook scripts are left alone (it would otherwise chain us and we it); we print
  the ``.pre-commit-config.yaml`` entry that runs us from pre-commit.

Edits to files we do not own (``.husky/<hook>``, lefthook's local configuration) are recorded
with their original bytes under the private directory, so uninstall puts back exactly what was
there.
"""

from __future__ import annotations

import base64
import hashlib
import json
import os
import re
import shlex
import sys
from collections.abc import Iterable
from pathlib import Path
from typing import Any

from cq_lsp.atomic import write_bytes_atomic, write_text_atomic
from cq_lsp.core.logs import last_line
from cq_lsp.errors import CqLspError
from cq_lsp.worktree.git import git_dirs, git_path, run_git

# post-index-change (git >= 2.22) fires whenever git rewrites the index, its first argument 1
# when it also rewrote work-tree files: `git reset --hard`, `git stash`, `git checkout -- path`,
# `git restore --staged --worktree`, which no other hook reports. reference-transaction (2.28)
# was the other candidate, but a `reset --hard` to the same commit or a stash apply moves no ref
# (its work-tree changes would be invisible to it), so it cannot replace this one.
HOOK_NAMES = ("post-commit", "post-merge", "post-checkout", "post-rewrite", "post-index-change")
SHIM_VERSION = 1
#: the marker line of our shims: "# cq-lsp-hook-shim v<version> <hook>".
SHIM_MARKER = "# cq-lsp-hook-shim"
_SHIM_RE = re.compile(r"^# cq-lsp-hook-shim v(\d+)\b", re.MULTILINE)
_PY_RE = re.compile(r"^PY='((?:[^']|'\\'')*)'$", re.MULTILINE)
CHAINED_SUFFIX = ".cq-lsp-chained"
#: the tag that ends the line we add to a husky hook file.
HUSKY_TAG = "# cq-lsp-hook"
_HUSKY_LINE_RE = re.compile(r"^.*# cq-lsp-hook v(\d+)\b.*\n?", re.MULTILINE)
LEFTHOOK_BEGIN = "# >>> cq-lsp hooks"
LEFTHOOK_END = "# <<< cq-lsp hooks"
PRIVATE_DIRNAME = "cq-lsp"
#: where a shim notes, once, that it ran in a work tree without .code-query/ (in its git dir).
NOT_INITIALIZED_NOTE = "cq-lsp-hooks.log"
SKIP_ENV = "CQ_LSP_SKIP_HOOKS"
DETACHED_ENV = "CQ_LSP_HOOK_DETACHED"
#: HEAD and ORIG_HEAD as the shim saw them, for the background job.
HEAD_ENV = "CQ_LSP_HOOK_HEAD"
ORIG_HEAD_ENV = "CQ_LSP_HOOK_ORIG_HEAD"

_LEFTHOOK_CONFIGS = tuple(
    f"{d}{dot}lefthook{ext}"
    for d in ("", ".config/")
    for dot in ("", ".")
    for ext in (".yml", ".yaml")
    if not (d and dot)
)


# -- the shim ------------------------------------------------------------------------------------


def sh_quote(text: str) -> str:
    """``text`` as one single-quoted sh word."""
    return "'" + text.replace("'", "'\\''") + "'"


def render_shim(hook: str, python: str | None = None) -> str:
    """The POSIX sh shim for ``hook``, naming ``python`` (``None``: the repository's reference
    copies in ``hooks/``, which use ``$CQ_LSP_PYTHON`` or ``python3`` from PATH).

    It costs git a few builtins and one fork: everything else happens in the background.
    """
    if hook not in HOOK_NAMES:
        raise ValueError(f"unknown hook {hook}")
    if python is None:
        py_line = 'PY="${CQ_LSP_PYTHON:-python3}"'
        who = "a copy of the shim `cq-lsp hooks install` writes (it names its Python there)"
    else:
        py_line = f"PY={sh_quote(python)}"
        who = "written by `cq-lsp hooks install`; `cq-lsp hooks uninstall` removes it"
    rewrite = hook == "post-rewrite"
    lines = [
        "#!/bin/sh",
        f"{SHIM_MARKER} v{SHIM_VERSION} {hook}",
        f"# cq-lsp git hook, {who}.",
        "# It hands what this git command changed to `cq-lsp hook` in the background, returns at",
        "# once and never fails git. CQ_LSP_SKIP_HOOKS=1 turns it off (a chained hook still runs).",
        "# Output: .code-query/logs/hooks.log",
        py_line,
        f"HOOK={hook}",
        'CHAINED="${0%/*}/$HOOK' + CHAINED_SUFFIX + '"',
    ]
    if rewrite:
        lines += [
            "# git's stdin (old and new commit ids) is read once, for us and for a chained hook.",
            "PAIRS= NL=",
            'while IFS= read -r LINE || [ -n "$LINE" ]; do PAIRS="$PAIRS$NL$LINE"; NL=\'',
            "'; LINE=; done",
        ]
    lines += [
        "# This work tree's git directory (cwd is the top of the work tree).",
        "G=.git",
        'if [ -f .git ]; then IFS= read -r G <.git; G="${G#gitdir: }"; fi',
    ]
    if hook != "post-checkout":  # post-checkout's arguments name its commits
        lines += [
            "# The commit ids as they are now (builtins only): more commits may come before the",
            "# background job runs (a cherry-pick of several commits, a script, a fast user).",
            "H= O=",
            'if [ -r "$G/HEAD" ] && IFS= read -r H <"$G/HEAD"; then',
            '  case "$H" in "ref: "*) R="${H#ref: }"; H=',
            '    if [ -r "$G/$R" ]; then IFS= read -r H <"$G/$R"',
            '    elif [ -r "$G/commondir" ] && IFS= read -r C <"$G/commondir"; then',
            '      case "$C" in /*) ;; *) C="$G/$C" ;; esac',
            '      [ -r "$C/$R" ] && IFS= read -r H <"$C/$R"',
            "    fi ;;",
            "  esac",
            "fi",
            '[ -r "$G/ORIG_HEAD" ] && IFS= read -r O <"$G/ORIG_HEAD"',
        ]
    lines += [
        'case "${CQ_LSP_SKIP_HOOKS:-}" in 1|true|yes) SKIP=1 ;; *) SKIP= ;; esac',
    ]
    if hook == "post-index-change":
        lines += [
            "# Only when git rewrote work-tree files ($1 = 1): `git add` or a commit, which",
            "# change the index alone, cost no process.",
            '[ "${1:-0}" = 1 ] || SKIP=1',
        ]
    lines += [
        'if [ -n "$SKIP" ]; then',
        "  :",
        "elif [ -d .code-query ]; then",
        "  [ -d .code-query/logs ] || mkdir -p .code-query/logs 2>/dev/null",
        '  if case "$PY" in /*) [ -x "$PY" ] ;; *) command -v "$PY" >/dev/null 2>&1 ;; esac; then',
        "    # One fork: the subshell ignores SIGHUP (nohup), becomes Python; git does not wait.",
        f"    ( trap '' HUP; export {DETACHED_ENV}=1"
        + (f' {HEAD_ENV}="$H" {ORIG_HEAD_ENV}="$O"' if hook != "post-checkout" else ""),
    ]
    if rewrite:
        lines += [
            '      if [ -n "$PAIRS" ]; then',
            '        exec "$PY" -I -m cq_lsp hook "$HOOK" "$@" <<CQ_LSP_EOF',
            "$PAIRS",
            "CQ_LSP_EOF",
            "      fi",
            '      exec "$PY" -I -m cq_lsp hook "$HOOK" "$@" </dev/null',
        ]
    else:
        lines += ['      exec "$PY" -I -m cq_lsp hook "$HOOK" "$@" </dev/null']
    lines += [
        "    ) >>.code-query/logs/hooks.log 2>&1 &",
        "  else",
        "    printf '%s\\n' \"cq-lsp: $HOOK: $PY, the Python that installed this hook, is gone;"
        ' nothing was queued (run \\`cq-lsp hooks install\\` again)" >>.code-query/logs/hooks.log'
        " 2>/dev/null",
        "  fi",
        "else",
        "  # Not initialized: nothing to do. Say so once, in this work tree's git directory.",
        f'  if [ -d "$G" ] && [ ! -e "$G/{NOT_INITIALIZED_NOTE}" ]; then',
        "    printf '%s\\n' \"cq-lsp: $HOOK ran in $PWD, which has no .code-query/, so it queued"
        ' nothing; run \\`cq-lsp init\\` there (or \\`cq-lsp hooks uninstall\\`)" >"$G/'
        + NOT_INITIALIZED_NOTE
        + '" 2>/dev/null',
        "  fi",
        "fi",
        'if [ -x "$CHAINED" ]; then',
    ]
    if rewrite:
        lines += [
            '  if [ -n "$PAIRS" ]; then',
            '    exec "$CHAINED" "$@" <<CQ_LSP_EOF',
            "$PAIRS",
            "CQ_LSP_EOF",
            "  fi",
            '  exec "$CHAINED" "$@" </dev/null',
        ]
    else:
        lines += ['  exec "$CHAINED" "$@"']
    lines += ["fi", "exit 0", ""]
    return "\n".join(lines)


def shim_version(text: str) -> int | None:
    """The version of our shim in ``text``, or None if it is not ours."""
    m = _SHIM_RE.search(text)
    return int(m.group(1)) if m else None


def shim_python(text: str) -> str | None:
    m = _PY_RE.search(text)
    return m.group(1).replace("'\\''", "'") if m else None


def installing_python() -> str:
    """The interpreter the shims name: this one, as invoked (a venv's bin/python stays that)."""
    return os.path.abspath(sys.executable)


# -- where git looks -----------------------------------------------------------------------------


def hooks_dir(root: Path) -> Path:
    """The directory git runs hooks from (``core.hooksPath`` and linked worktrees honoured)."""
    return git_path(root, "--git-path", "hooks")


def common_dir(root: Path) -> Path:
    return git_path(root, "--git-common-dir")


def private_dir(root: Path) -> Path:
    """Our own corner of the shared git directory: shims for hook managers, saved originals."""
    return common_dir(root) / PRIVATE_DIRNAME


def hooks_path_setting(root: Path) -> str | None:
    try:
        out = run_git(root, "config", "--get", "core.hooksPath")
    except CqLspError:  # exit 1: not set
        return None
    return out.decode("utf-8", "surrogateescape").strip() or None


# -- recognising what is installed ---------------------------------------------------------------


def _read_text(path: Path) -> str | None:
    try:
        return path.read_bytes().decode("utf-8", "replace")
    except OSError:
        return None


def classify_hook(path: Path) -> str:
    """What occupies a hook file: absent | ours | pre-commit | lefthook | husky | foreign."""
    if not os.path.lexists(path):
        return "absent"
    text = _read_text(path)
    if text is None:
        return "foreign"
    if shim_version(text) is not None:
        return "ours"
    if "File generated by pre-commit" in text or ("pre_commit" in text and "hook-impl" in text):
        return "pre-commit"
    if "LEFTHOOK" in text or "lefthook run" in text:
        return "lefthook"
    if '. "$(dirname "$0")/h"' in text or "husky.sh" in text:
        return "husky"
    return "foreign"


def husky_dir(root: Path, hooks: Path) -> tuple[Path, int] | None:
    """husky's directory of user hook scripts and husky's major version, when husky is in use.

    husky 9 points ``core.hooksPath`` at ``.husky/_`` (its generated shims and ``h``) and runs
    ``.husky/<hook>`` with ``sh -e``; husky 4–8 point it at ``.husky`` itself, whose files git
    runs directly and which source ``_/husky.sh``.
    """
    if hooks.name == "_" and (hooks / "h").is_file():
        return hooks.parent, 9
    if (hooks / "_" / "husky.sh").is_file():
        return hooks, 8
    return None


def lefthook_config(root: Path) -> Path | None:
    for name in _LEFTHOOK_CONFIGS:
        if (root / name).is_file():
            return root / name
    return None


def lefthook_local_config(root: Path, main: Path | None) -> Path:
    """lefthook's local configuration beside the main one (``lefthook-local.yml`` by default)."""
    for name in _LEFTHOOK_CONFIGS:
        local = root / name.replace("lefthook", "lefthook-local")
        if local.is_file():
            return local
    if main is None:
        return root / "lefthook-local.yml"
    return main.with_name(main.name.replace("lefthook", "lefthook-local"))


def detect_manager(root: Path, hooks: Path) -> str | None:
    """husky | lefthook | None (pre-commit is decided per hook file, see classify_hook)."""
    if husky_dir(root, hooks) is not None:
        return "husky"
    if lefthook_config(root) is not None or any(
        classify_hook(hooks / h) == "lefthook" for h in HOOK_NAMES
    ):
        return "lefthook"
    return None


# -- saved originals of files we edit but do not own ---------------------------------------------


def _saved_path(root: Path, target: Path) -> Path:
    key = hashlib.sha1(os.fsencode(target)).hexdigest()[:16]
    return private_dir(root) / "saved" / f"{key}.json"


def _edit_append(root: Path, target: Path, addition: str, created: str) -> None:
    """Append ``addition`` to ``target`` (or create it as ``created``), remembering the original."""
    original = target.read_bytes() if target.exists() else None
    if original is None:
        new = created.encode("utf-8")
    else:
        sep = b"" if not original or original.endswith(b"\n") else b"\n"
        new = original + sep + addition.encode("utf-8")
    saved = _saved_path(root, target)
    if not saved.exists():
        saved.parent.mkdir(parents=True, exist_ok=True)
        write_text_atomic(
            saved,
            json.dumps(
                {
                    "path": os.fsdecode(target),
                    "original": None
                    if original is None
                    else base64.b64encode(original).decode("ascii"),
                    "written": base64.b64encode(new).decode("ascii"),
                }
            ),
        )
    target.parent.mkdir(parents=True, exist_ok=True)
    write_bytes_atomic(target, new)


def _edit_rewrite(root: Path, target: Path, text: str) -> None:
    """Rewrite our part of a file we edited (an upgrade), keeping the saved original valid."""
    data = text.encode("utf-8", "surrogateescape")
    write_bytes_atomic(target, data)
    saved = _saved_path(root, target)
    try:
        record = json.loads(saved.read_text(encoding="utf-8"))
    except (OSError, ValueError):
        return
    record["written"] = base64.b64encode(data).decode("ascii")
    write_text_atomic(saved, json.dumps(record))


def _edit_revert(root: Path, target: Path, strip: Any) -> str:
    """Undo ``_edit_append``: the original bytes when the file is as we left it, else only our
    part (``strip(text) -> text``). Returns what was done."""
    saved = _saved_path(root, target)
    record = None
    if saved.exists():
        try:
            record = json.loads(saved.read_text(encoding="utf-8"))
        except (OSError, ValueError):
            record = None
    current = target.read_bytes() if target.exists() else None
    action = "unchanged"
    if record is not None and current is not None:
        written = base64.b64decode(record["written"])
        if current == written:
            if record["original"] is None:
                target.unlink()
                action = "removed"
            else:
                write_bytes_atomic(target, base64.b64decode(record["original"]))
                action = "restored"
    if action == "unchanged" and current is not None:
        text = current.decode("utf-8", "surrogateescape")
        stripped = strip(text)
        if stripped != text:
            write_bytes_atomic(target, stripped.encode("utf-8", "surrogateescape"))
            action = "edited"
    saved.unlink(missing_ok=True)
    return action


# -- the pieces each manager needs ---------------------------------------------------------------


def husky_line(hook: str) -> str:
    """One line for ``.husky/<hook>``: runs our private shim if this clone has it, else nothing.

    It is committed with the user's hook file, so it names no path of this machine, and it
    succeeds (``|| :``) even under husky's ``sh -e``.
    """
    return (
        "g=$(git rev-parse --git-common-dir 2>/dev/null) && "
        f'[ -f "$g/{PRIVATE_DIRNAME}/hooks/{hook}" ] && '
        f'sh "$g/{PRIVATE_DIRNAME}/hooks/{hook}" "$@" || :  '
        f"{HUSKY_TAG} v{SHIM_VERSION}: queue changes for cq-lsp "
        "(`cq-lsp hooks uninstall` removes it)"
    )


def lefthook_block(root: Path) -> str:
    shims = private_dir(root) / "hooks"
    lines = [
        f"{LEFTHOOK_BEGIN} (written by `cq-lsp hooks install`; `cq-lsp hooks uninstall` removes it)"
    ]
    for hook in HOOK_NAMES:
        lines += [
            f"{hook}:",
            "  commands:",
            "    cq-lsp:",
            f"      run: sh {shlex.quote(str(shims / hook))} {{0}}",
        ]
        if hook == "post-rewrite":
            lines.append("      use_stdin: true")
    lines += [LEFTHOOK_END, ""]
    return "\n".join(lines)


def _strip_lefthook_block(text: str) -> str:
    start = text.find(LEFTHOOK_BEGIN)
    if start < 0:
        return text
    end = text.find(LEFTHOOK_END, start)
    if end < 0:
        return text
    end += len(LEFTHOOK_END)
    if text[end : end + 1] == "\n":
        end += 1
    return text[:start] + text[end:]


PRE_COMMIT_SNIPPET = """\
  - repo: local
    hooks:
      - id: cq-lsp
        name: cq-lsp (queue changed files for documentation)
        entry: cq-lsp hook post-commit
        language: system
        stages: [post-commit, post-merge, post-checkout, post-rewrite]
        always_run: true
        pass_filenames: false
"""


def pre_commit_instructions(hooks: Iterable[str]) -> str:
    types = " ".join(f"--hook-type {h}" for h in hooks)
    return (
        "pre-commit runs these hooks here; add this under `repos:` in .pre-commit-config.yaml\n"
        "(cq-lsp must be on PATH; `cq-lsp hook` reads pre-commit's variables and returns at "
        "once):\n"
        f"{PRE_COMMIT_SNIPPET}"
        f"then run: pre-commit install {types}"
    )


def pre_commit_configured(root: Path) -> bool:
    """Whether .pre-commit-config.yaml runs us (our snippet, or our hook id from a repo)."""
    text = _read_text(root / ".pre-commit-config.yaml") or ""
    return "cq-lsp hook" in text or re.search(r"^\s*-?\s*id:\s*cq-lsp\s*$", text, re.M) is not None


def _write_private_shims(root: Path) -> Path:
    shims = private_dir(root) / "hooks"
    shims.mkdir(parents=True, exist_ok=True)
    py = installing_python()
    for hook in HOOK_NAMES:
        path = shims / hook
        text = render_shim(hook, py)
        if _read_text(path) != text:
            write_text_atomic(path, text, mode=0o755)
    return shims


def _remove_private(root: Path) -> None:
    base = private_dir(root)
    for hook in HOOK_NAMES:
        (base / "hooks" / hook).unlink(missing_ok=True)
    for d in (base / "hooks", base / "saved", base):
        try:
            d.rmdir()
        except OSError:
            pass


# -- install ------------------------------------------------------------------------------------


def _install_plain(hooks: Path, hook: str, py: str) -> dict[str, Any]:
    target = hooks / hook
    chained = hooks / (hook + CHAINED_SUFFIX)
    text = render_shim(hook, py)
    kind = classify_hook(target)
    entry: dict[str, Any] = {"name": hook, "path": str(target), "chained": None}
    if chained.exists() or chained.is_symlink():
        entry["chained"] = str(chained)
    if kind == "ours":
        if _read_text(target) == text and os.access(target, os.X_OK):
            entry["action"] = "unchanged"
        else:
            write_text_atomic(target, text, mode=0o755)
            entry["action"] = "upgraded"
        return entry
    if kind == "pre-commit":
        entry["action"] = "pre-commit"
        return entry
    if kind == "absent":
        hooks.mkdir(parents=True, exist_ok=True)
        write_text_atomic(target, text, mode=0o755)
        entry["action"] = "installed"
        return entry
    # Someone else's hook: it keeps running, chained behind ours.
    if entry["chained"] is not None:
        entry["action"] = "conflict"
        entry["message"] = (
            f"{target} is not ours and {chained.name} exists too; move one of them away and run "
            "`cq-lsp hooks install` again"
        )
        return entry
    os.rename(target, chained)
    write_text_atomic(target, text, mode=0o755)
    entry["action"] = "chained"
    entry["chained"] = str(chained)
    return entry


def install_hooks(root: Path) -> dict[str, Any]:
    """Install (or upgrade) the hooks for the work tree ``root``; returns what was done."""
    root = Path(root)
    hooks = hooks_dir(root)
    manager = detect_manager(root, hooks)
    py = installing_python()
    result: dict[str, Any] = {
        "root": str(root),
        "hooksDir": str(hooks),
        "hooksPath": hooks_path_setting(root),
        "manager": manager,
        "python": py,
        "hooks": [],
        "instructions": None,
        "notes": [],
    }
    if manager == "husky":
        found = husky_dir(root, hooks)
        assert found is not None
        hdir, major = found
        shims = _write_private_shims(root)
        for hook in HOOK_NAMES:
            result["hooks"].append(_install_husky(root, hdir, major, hook, shims))
        result["notes"].append(
            f"husky runs the hooks: our line is in {os.path.relpath(hdir, root)}/<hook> "
            "(commit it, or not: a clone without cq-lsp skips it)"
        )
    elif manager == "lefthook":
        shims = _write_private_shims(root)
        main = lefthook_config(root)
        local = lefthook_local_config(root, main)
        block = lefthook_block(root)
        text = _read_text(local) or ""
        if LEFTHOOK_BEGIN in text:
            if block in text:
                action = "unchanged"
            else:
                stripped = _strip_lefthook_block(text)
                sep = "" if not stripped or stripped.endswith("\n") else "\n"
                _edit_rewrite(root, local, stripped + sep + block)
                action = "upgraded"
        elif re.search("^(?:" + "|".join(HOOK_NAMES) + "):", text, re.MULTILINE):
            action = "printed"
            result["instructions"] = (
                f"{local.name} already configures these hooks; add a `cq-lsp` command to each "
                f"(lefthook merges them):\n{block}"
            )
        else:
            _edit_append(root, local, block, block)
            action = "written"
        for hook in HOOK_NAMES:
            result["hooks"].append(
                {"name": hook, "path": str(local), "action": action, "via": "lefthook"}
            )
        if action in ("written", "upgraded"):
            result["notes"].append(
                f"lefthook runs the hooks: our commands are in {local.name}; run "
                "`lefthook install` so lefthook installs the post-* hooks"
            )
            if not _git_ignores(root, local):
                result["notes"].append(
                    f"{local.name} names paths of this machine: add it to .gitignore"
                )
    else:
        pre_commit: list[str] = []
        for hook in HOOK_NAMES:
            entry = _install_plain(hooks, hook, py)
            if entry["action"] == "pre-commit":
                pre_commit.append(hook)
            result["hooks"].append(entry)
        if pre_commit and pre_commit_configured(root):
            result["notes"].append(
                "pre-commit runs "
                + ", ".join(pre_commit)
                + " here, and .pre-commit-config.yaml runs `cq-lsp hook`: nothing to add"
            )
        elif pre_commit:
            result["instructions"] = pre_commit_instructions(pre_commit)
        if _in_work_tree(root, hooks):
            result["notes"].append(
                f"the hooks directory {os.path.relpath(hooks, root)} is inside the work tree: "
                "git status shows our shims (they name this machine's Python; do not commit them)"
            )
    if not (root / ".code-query").is_dir():
        result["notes"].append("this work tree has no .code-query/ yet: run `cq-lsp init` here")
    return result


def _in_work_tree(root: Path, path: Path) -> bool:
    """Whether ``path`` lies in the work tree proper (not in git's own directory), where git
    status would show it."""
    real = path.resolve()
    if not real.is_relative_to(root.resolve()):
        return False
    dirs = git_dirs(root) or ()
    return not any(real.is_relative_to(d.resolve()) for d in dirs)


def _git_ignores(root: Path, path: Path) -> bool:
    try:
        rel = os.path.relpath(path, root)
        run_git(root, "check-ignore", "-q", "--", rel)
        return True
    except (CqLspError, ValueError):
        return False


def _install_husky(root: Path, hdir: Path, major: int, hook: str, shims: Path) -> dict[str, Any]:
    target = hdir / hook
    line = husky_line(hook)
    entry: dict[str, Any] = {"name": hook, "path": str(target), "via": "husky"}
    text = _read_text(target)
    if text is not None and line in text:
        entry["action"] = "unchanged"
        return entry
    if text is not None and _HUSKY_LINE_RE.search(text):
        _edit_rewrite(root, target, _HUSKY_LINE_RE.sub(lambda _m: line + "\n", text, count=1))
        entry["action"] = "upgraded"
        return entry
    if major >= 9:
        created = line + "\n"
    else:  # husky 4-8: git runs the file itself
        created = '#!/usr/bin/env sh\n. "$(dirname -- "$0")/_/husky.sh"\n\n' + line + "\n"
    _edit_append(root, target, line + "\n", created)
    if major < 9:
        os.chmod(target, 0o755)
    entry["action"] = "added" if text is not None else "created"
    return entry


# -- uninstall ----------------------------------------------------------------------------------


def uninstall_hooks(root: Path) -> dict[str, Any]:
    """Remove our shims, lines and configuration; put back what we chained or edited."""
    root = Path(root)
    hooks = hooks_dir(root)
    result: dict[str, Any] = {"root": str(root), "hooksDir": str(hooks), "hooks": [], "notes": []}
    for hook in HOOK_NAMES:
        target = hooks / hook
        chained = hooks / (hook + CHAINED_SUFFIX)
        entry: dict[str, Any] = {"name": hook, "path": str(target), "action": "absent"}
        kind = classify_hook(target)
        has_chained = chained.exists() or chained.is_symlink()
        if kind == "ours":
            target.unlink()
            entry["action"] = "removed"
            kind = "absent"
        if has_chained:
            if kind == "absent":
                os.rename(chained, target)
                entry["action"] = "restored"
                entry["restored"] = str(target)
            else:
                entry["action"] = "kept-chained"
                result["notes"].append(
                    f"{target} is not ours any more, so {chained.name} stays where it is: "
                    "move it back by hand if you want it"
                )
        elif kind == "foreign" and entry["action"] == "absent":
            entry["action"] = "not-ours"
        # pre-commit keeps a hook it found as <hook>.legacy and runs it; lefthook keeps <hook>.old.
        for kept in (hooks / (hook + ".legacy"), hooks / (hook + ".old")):
            if classify_hook(kept) == "ours":
                kept.unlink()
                entry.update(action="removed", path=str(kept))
        if kind in ("pre-commit", "lefthook", "husky") and entry["action"] == "absent":
            continue  # a hook manager's own script: nothing of ours there
        result["hooks"].append(entry)
    found = husky_dir(root, hooks)
    if found is not None:
        hdir = found[0]
        for hook in HOOK_NAMES:
            target = hdir / hook
            if target.exists():
                done = _edit_revert(root, target, lambda t: _HUSKY_LINE_RE.sub("", t))
                if done != "unchanged":
                    result["hooks"].append(
                        {"name": hook, "path": str(target), "action": done, "via": "husky"}
                    )
    local = lefthook_local_config(root, lefthook_config(root))
    if local.exists() and LEFTHOOK_BEGIN in (_read_text(local) or ""):
        done = _edit_revert(root, local, _strip_lefthook_block)
        result["hooks"].append({"name": "*", "path": str(local), "action": done, "via": "lefthook"})
    _remove_private(root)
    return result


# -- status -------------------------------------------------------------------------------------


def hooks_status(root: Path) -> dict[str, Any]:
    """What is installed where, and whether it would run."""
    root = Path(root)
    hooks = hooks_dir(root)
    manager = detect_manager(root, hooks)
    py = installing_python()
    entries: list[dict[str, Any]] = []
    shims = private_dir(root) / "hooks"
    husky = husky_dir(root, hooks)
    lefthook_text = ""
    local = None
    if manager == "lefthook":
        local = lefthook_local_config(root, lefthook_config(root))
        lefthook_text = _read_text(local) or ""
    for hook in HOOK_NAMES:
        target = hooks / hook
        chained = hooks / (hook + CHAINED_SUFFIX)
        kind = classify_hook(target)
        entry: dict[str, Any] = {
            "name": hook,
            "path": str(target),
            "kind": kind,
            "chained": str(chained) if chained.exists() or chained.is_symlink() else None,
        }
        shim_file: Path | None = target if kind == "ours" else None
        if husky is not None:
            line_file = husky[0] / hook
            has_line = HUSKY_TAG in (_read_text(line_file) or "")
            entry.update(via="husky", path=str(line_file))
            shim_file = shims / hook if has_line else None
        elif manager == "lefthook":
            assert local is not None
            entry.update(via="lefthook", path=str(local))
            shim_file = shims / hook if LEFTHOOK_BEGIN in lefthook_text else None
        elif kind == "pre-commit":
            entry["via"] = "pre-commit"
            legacy = hooks / (hook + ".legacy")
            if pre_commit_configured(root):
                entry["state"] = "pre-commit"
            elif classify_hook(legacy) == "ours":  # pre-commit runs it as its "legacy" hook
                entry["path"] = str(legacy)
                shim_file = legacy
            else:
                entry["state"] = "missing"
        else:
            entry["via"] = "hooks-dir"
        if "state" not in entry:
            entry["state"] = _shim_state(shim_file, hook, py, entry)
        entries.append(entry)
    states = {e["state"] for e in entries}
    note = _not_initialized_note(root)
    return {
        "root": str(root),
        "hooksDir": str(hooks),
        "hooksPath": hooks_path_setting(root),
        "manager": manager,
        "python": py,
        "installed": states <= {"installed", "pre-commit"},
        "hooks": entries,
        "skipped": os.environ.get(SKIP_ENV, "") in ("1", "true", "yes"),
        "initialized": (root / ".code-query").is_dir(),
        "log": str(root / ".code-query" / "logs" / "hooks.log"),
        "lastLog": last_line(root / ".code-query" / "logs" / "hooks.log"),
        "notInitializedNote": str(note) if note is not None else None,
    }


def _shim_state(shim: Path | None, hook: str, py: str, entry: dict[str, Any]) -> str:
    """installed | outdated | missing | python-gone, filling version and python into entry."""
    text = _read_text(shim) if shim is not None else None
    if text is None or shim_version(text) is None:
        return "missing"
    entry["version"] = shim_version(text)
    entry["python"] = shim_python(text)
    entry["pythonExists"] = bool(entry["python"]) and os.access(entry["python"], os.X_OK)
    if entry["version"] != SHIM_VERSION or text != render_shim(hook, entry["python"]):
        return "outdated"
    if not entry["pythonExists"]:
        return "python-gone"
    if entry["python"] != py:
        entry["otherPython"] = True
    return "installed"


def _not_initialized_note(root: Path) -> Path | None:
    dirs = git_dirs(root)
    if dirs is None:
        return None
    note = dirs[0] / NOT_INITIALIZED_NOTE
    return note if note.exists() else None
