"""The few git facts the core needs, read with NUL-separated output so any file name survives."""

from __future__ import annotations

import os
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


def _git_dir(root: Path) -> Path | None:
    dotgit = root / ".git"
    if dotgit.is_dir():
        return dotgit
    if dotgit.is_file():  # linked worktree or submodule: "gitdir: <path>"
        text = dotgit.read_text(encoding="utf-8", errors="replace").strip()
        if text.startswith("gitdir:"):
            gd = Path(text[len("gitdir:") :].strip())
            return gd if gd.is_absolute() else (root / gd).resolve()
    return None


def head_commit(root: Path) -> str | None:
    """HEAD's commit sha, read from files (no subprocess: the worker asks once per job)."""
    gd = _git_dir(root)
    if gd is None:
        return None
    try:
        head = (gd / "HEAD").read_text(encoding="utf-8").strip()
    except OSError:
        return None
    if not head.startswith("ref:"):
        return head or None
    ref = head[4:].strip()
    common = gd
    commondir = gd / "commondir"
    if commondir.is_file():
        common = (gd / commondir.read_text(encoding="utf-8").strip()).resolve()
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
