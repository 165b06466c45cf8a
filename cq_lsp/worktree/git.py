"""The few git facts the core needs, read with NUL-separated output so any file name survives."""

from __future__ import annotations

import os
import re
import subprocess
from pathlib import Path

from cq_lsp.errors import CqLspError

GIT_TIMEOUT_S = 60


def run_git(root: Path, *args: str, input_bytes: bytes | None = None) -> bytes:
    """Run git in ``root`` with an argument list (never a shell) and return stdout."""
    try:
        proc = subprocess.run(
            ["git", "-C", str(root), *args],
            input=input_bytes,
            capture_output=True,
            timeout=GIT_TIMEOUT_S,
            check=False,
        )
    except FileNotFoundError as exc:
        raise CqLspError(
            "git is not installed or not on PATH", hint="install git (e.g. `apt-get install git`)"
        ) from exc
    except subprocess.TimeoutExpired as exc:
        raise CqLspError(f"`git {' '.join(args)}` took longer than {GIT_TIMEOUT_S} s") from exc
    if proc.returncode != 0:
        err = proc.stderr.decode("utf-8", "replace").strip().splitlines()
        raise CqLspError(f"`git {' '.join(args)}` failed: {err[-1] if err else proc.returncode}")
    return proc.stdout


def split_z(out: bytes) -> list[str]:
    """Split NUL-separated git output into str paths (non-UTF-8 bytes kept via surrogateescape)."""
    return [os.fsdecode(p) for p in out.split(b"\0") if p]


def tracked_files(root: Path) -> list[str]:
    """Every path in git's index, repo-relative POSIX, including tracked files deleted on disk."""
    return split_z(run_git(root, "ls-files", "-z", "--cached"))


def is_tracked(root: Path, rel: str) -> bool:
    out = run_git(root, "ls-files", "-z", "--cached", "--", ":(literal)" + rel)
    return bool(out.strip(b"\0"))


def commit_id(root: Path, rev: str) -> str | None:
    """The commit ``rev`` names, or None when it names none.

    ``--end-of-options`` keeps a value such as ``--output=FILE`` (a hook argument anyone can pass)
    from being read as an option; ``^{commit}`` refuses trees, blobs and tags of non-commits.
    """
    if not rev or "\0" in rev:
        return None
    try:
        out = run_git(
            root, "rev-parse", "--verify", "--quiet", "--end-of-options", rev + "^{commit}"
        )
    except CqLspError:
        return None
    sha = out.decode("ascii", "replace").strip()
    return sha or None


def git_dirs(root: Path) -> tuple[Path, Path] | None:
    """(this work tree's git dir, the common dir), read from files — no subprocess.

    HEAD and the index live in the first, refs and hooks in the second. A linked worktree's (or
    submodule's) ``.git`` is a file naming its git dir, whose ``commondir`` names the main one.
    """
    dotgit = root / ".git"
    if dotgit.is_dir():
        git_dir = dotgit
    elif dotgit.is_file():
        try:
            text = dotgit.read_text(encoding="utf-8", errors="replace").strip()
        except OSError:
            return None
        if not text.startswith("gitdir:"):
            return None
        git_dir = (root / text[len("gitdir:") :].strip()).resolve()
    else:
        return None
    common = git_dir
    try:
        rel = (git_dir / "commondir").read_text(encoding="utf-8").strip()
        common = (git_dir / rel).resolve()
    except OSError:
        pass
    return git_dir, common


def git_path(root: Path, *rev_parse_args: str) -> Path:
    """A path git reports (``--git-path hooks``, ``--git-common-dir``…), absolute."""
    out = run_git(root, "rev-parse", *rev_parse_args).decode("utf-8", "surrogateescape").strip()
    p = Path(out)
    return Path(os.path.normpath(p if p.is_absolute() else root / p))


def head_commit(root: Path) -> str | None:
    """HEAD's commit sha, read from files (no subprocess: the worker asks once per job)."""
    dirs = git_dirs(root)
    if dirs is None:
        return None
    gd, common = dirs
    try:
        head = (gd / "HEAD").read_text(encoding="utf-8").strip()
    except OSError:
        return None
    if not head.startswith("ref:"):
        return head or None
    ref = head[4:].strip()
    for base in (gd, common):
        try:
            return (base / ref).read_text(encoding="utf-8").strip()
        except OSError:
            pass
    try:
        for line in (common / "packed-refs").read_text(encoding="utf-8").splitlines():
            if line.endswith(" " + ref):
                return line.split(" ", 1)[0]
    except OSError:
        pass
    return None  # an unborn branch: no commit yet


def blob_sha(content: bytes) -> str:
    """git's blob id of ``content`` (what `git hash-object` prints), so shas match git's."""
    import hashlib

    h = hashlib.sha1(b"blob %d\0" % len(content))
    h.update(content)
    return h.hexdigest()


_STAGE_ENTRY = re.compile(rb"(\d{6}) ([0-9a-f]{40,64}) 0\t([^\0]*)\0")


def index_snapshot(root: Path) -> tuple[dict[str, str], set[str]]:
    """What git knows of the work tree without reading a file: (path → blob sha of every
    stage-0 entry of its index, ``git ls-files --stage``; the tracked paths whose stat changed
    since, ``git diff-files``: touched or edited files, to be hashed). Both run at once."""
    commands = (
        ("ls-files", "-z", "--stage"),
        ("diff-files", "--name-only", "-z", "--no-renames"),
    )
    try:
        procs = [
            subprocess.Popen(
                ["git", "-C", str(root), *args], stdout=subprocess.PIPE, stderr=subprocess.PIPE
            )
            for args in commands
        ]
    except FileNotFoundError as exc:
        raise CqLspError(
            "git is not installed or not on PATH", hint="install git (e.g. `apt-get install git`)"
        ) from exc
    outs: list[bytes] = []
    for args, proc in zip(commands, procs, strict=True):
        try:
            out, err = proc.communicate(timeout=GIT_TIMEOUT_S)
        except subprocess.TimeoutExpired as exc:
            for p in procs:
                p.kill()
            raise CqLspError(f"git took longer than {GIT_TIMEOUT_S} s in {root}") from exc
        if proc.returncode != 0:
            lines = err.decode("utf-8", "replace").strip().splitlines()
            why = lines[-1] if lines else proc.returncode
            raise CqLspError(f"`git {' '.join(args)}` failed: {why}")
        outs.append(out)
    blobs = {
        os.fsdecode(path): sha.decode("ascii")
        for mode, sha, path in _STAGE_ENTRY.findall(outs[0])
        if mode != b"160000"  # a submodule's commit, not a file
    }
    return blobs, set(split_z(outs[1]))
