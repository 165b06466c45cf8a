"""The one path guard every entry point uses: a path is documented only if it passes all of it.

Order of checks: lexically inside the root → symlinks resolved and still inside → not in ``.git/``
or ``.code-query/`` → not ignored by ``.gitignore`` (tracked files excepted, as in git) → not in
``exclude_patterns`` → a regular file no larger than ``max_file_bytes`` → text, not binary.
Each refusal is a :class:`PathRefused` with a short ``reason`` code that the ledger records.
"""

from __future__ import annotations

import os
import stat
import threading
from collections.abc import Iterator, Sequence
from contextlib import AbstractContextManager, contextmanager
from pathlib import Path, PurePath, PurePosixPath

import attrs

from cq_lsp.errors import PathRefused
from cq_lsp.worktree.git import blob_sha, is_tracked

INTERNAL_DIRS = frozenset({".git", ".code-query"})
BINARY_SNIFF_BYTES = 8192


@attrs.define(frozen=True)
class FileContent:
    """A file that passed the guard, read once: bytes for the sha, text for the documenter."""

    rel: str
    data: bytes
    text: str
    sha: str
    size: int
    mtime_ns: int
    notes: tuple[str, ...] = ()


def decode_text(data: bytes) -> tuple[str, tuple[str, ...]]:
    """Decode source bytes; non-UTF-8 text is still documented, with a note saying so."""
    try:
        return data.decode("utf-8-sig"), ()
    except UnicodeDecodeError as exc:
        note = f"not valid UTF-8 (first bad byte at offset {exc.start}); undecodable bytes replaced"
        return data.decode("utf-8", "replace"), (note,)


def looks_binary(head: bytes) -> bool:
    return b"\0" in head


class _IgnoreRules:
    """.gitignore files (nested, each relative to its own directory) and .git/info/exclude."""

    def __init__(self, root: Path) -> None:
        self._root = os.fspath(root)
        self._lock = threading.Lock()
        self._cache: dict[str, tuple[tuple[int, int], object | None]] = {}
        self._memo = threading.local()

    @contextmanager
    def snapshot(self) -> Iterator[None]:
        """Within the block each ignore file is read (stat'ed) once, and each directory's verdict
        is reached once, per thread.

        A path three directories deep asks about ten ignore files; the worker documents batches
        of neighbouring files, so outside a snapshot it stat'ed the same files again and again.
        """
        outer = getattr(self._memo, "specs", None)
        outer_dirs = getattr(self._memo, "dirs", None)
        if outer is None:
            self._memo.specs, self._memo.dirs = {}, {}
        try:
            yield
        finally:
            self._memo.specs, self._memo.dirs = outer, outer_dirs

    def _rules(self, base: tuple[str, ...] | None) -> object | None:
        """The parsed ignore file of directory ``base`` (``()``: the root's .gitignore; None:
        .git/info/exclude), or None when there is none."""
        memo: dict[tuple[str, ...] | None, object | None] | None = getattr(
            self._memo, "specs", None
        )
        if memo is not None and base in memo:
            return memo[base]
        if base is None:
            file = os.path.join(self._root, ".git", "info", "exclude")
        else:
            file = os.path.join(self._root, *base, ".gitignore")
        spec = self._load(file)
        if memo is not None:
            memo[base] = spec
        return spec

    def _load(self, file: str) -> object | None:
        try:
            st = os.stat(file)
        except OSError:
            return None
        key = (st.st_mtime_ns, st.st_size)
        with self._lock:
            cached = self._cache.get(file)
            if cached and cached[0] == key:
                return cached[1]
        import pathspec

        try:
            with open(file, encoding="utf-8", errors="replace") as fh:
                lines = fh.read().splitlines()
        except OSError:
            return None
        spec = pathspec.GitIgnoreSpec.from_lines(lines)
        with self._lock:
            self._cache[file] = (key, spec)
        return spec

    def ignored(self, rel: str) -> str | None:
        """The ignore file that excludes ``rel``, or None. Deeper files override shallower ones.

        Like git, a file inside an ignored directory stays ignored whatever negation follows
        (``logs/`` then ``!logs/keep.log``): git never descends into an excluded directory, so
        each parent directory is checked first, as a directory.
        """
        parts = PurePosixPath(rel).parts
        dirs: dict[tuple[str, ...], str | None] | None = getattr(self._memo, "dirs", None)
        for depth in range(1, len(parts)):
            sub = parts[:depth]
            if dirs is not None and sub in dirs:
                source = dirs[sub]
            else:
                source = self._verdict(sub, is_dir=True)
                if dirs is not None:
                    dirs[sub] = source
            if source is not None:
                return source
        return self._verdict(parts, is_dir=False)

    def _verdict(self, parts: tuple[str, ...], *, is_dir: bool) -> str | None:
        """The last ignore file whose rules exclude the path ``parts`` (a directory if is_dir)."""
        rel = "/".join(parts)
        verdict: bool | None = None
        source: str | None = None
        bases: list[tuple[str, ...] | None] = [None, *(parts[:d] for d in range(len(parts)))]
        for base in bases:
            spec = self._rules(base)
            if spec is None:
                continue
            sub = rel[len("/".join(base)) + 1 :] if base else rel
            # A trailing slash lets directory-only patterns (``build/``) match the directory.
            result = spec.check_file(sub + "/" if is_dir else sub)  # type: ignore[attr-defined]
            if result.include is not None:
                verdict = result.include
                source = ".git/info/exclude" if base is None else "/".join((*base, ".gitignore"))
        return source if verdict else None


class PathGuard:
    """Turns user-given paths into safe repo-relative POSIX paths, or refuses them with a reason."""

    def __init__(self, root: Path, exclude_patterns: Sequence[str], max_file_bytes: int) -> None:
        import pathspec

        self.root = Path(root).resolve()
        self._root_str = os.fspath(self.root)
        self.max_file_bytes = max_file_bytes
        self._excludes = pathspec.GitIgnoreSpec.from_lines(list(exclude_patterns))
        self._ignores = _IgnoreRules(self.root)

    # -- naming -----------------------------------------------------------------------------

    def to_rel(self, raw: str | os.PathLike[str] | bytes, base: Path | None = None) -> str:
        """Repo-relative POSIX path for ``raw`` (absolute, or relative to ``base``/the root).

        Refuses paths outside the root (``outside``), symlinks leading out of it (``escapes``) and
        anything inside ``.git/`` or ``.code-query/`` (``internal``). The file need not exist, so
        deletions can be named.
        """
        shown = os.fsdecode(raw) if isinstance(raw, bytes) else os.fspath(raw)
        if not shown:
            raise PathRefused(shown, "outside", "empty path", hint="name a file in the work tree")
        # Strings and one PurePath per check rather than Path objects: `index` names every
        # tracked file, and pathlib's constructors were most of its cost.
        joined = os.path.join(os.fspath(base or self.root), shown)
        lexical = os.path.normpath(joined)
        rel_parts = self._parts_inside(lexical)
        if rel_parts is None:
            # The caller may name the root through a symlink (e.g. /tmp vs /private/tmp).
            parent_real = os.path.realpath(os.path.dirname(lexical))
            lexical = os.path.join(parent_real, os.path.basename(lexical))
            rel_parts = self._parts_inside(lexical)
            if rel_parts is None:
                raise PathRefused(
                    shown,
                    "outside",
                    f"{shown}: outside the work tree {self.root}",
                    hint="only files inside the repository can be documented",
                )
        if not rel_parts:
            raise PathRefused(
                shown,
                "outside",
                f"{shown}: is the work-tree root, not a file",
                hint="name a file inside the work tree",
            )
        if any(part in INTERNAL_DIRS for part in rel_parts):
            raise PathRefused(
                shown,
                "internal",
                f"{shown}: inside .git/ or .code-query/",
                hint="these hold git's and cq-lsp's own data and are never documented",
            )
        real = os.path.realpath(lexical)
        if not PurePath(real).is_relative_to(self.root):
            raise PathRefused(
                shown,
                "escapes",
                f"{shown}: a symlink that leads outside the work tree (to {real})",
                hint="symlinks are followed only when their target is inside the repository",
            )
        return "/".join(rel_parts)

    def _parts_inside(self, path: str) -> tuple[str, ...] | None:
        """The components of ``path`` below the root, or None when it is not inside it."""
        pure = PurePath(path)
        if not pure.is_relative_to(self.root):
            return None
        return pure.relative_to(self.root).parts

    def snapshot(self) -> AbstractContextManager[None]:
        """A block in which .gitignore files are read as they were at its start (one stat each):
        for checking a batch of paths at once."""
        return self._ignores.snapshot()

    def abspath(self, rel: str) -> Path:
        return self.root.joinpath(*PurePosixPath(rel).parts)

    # -- rules --------------------------------------------------------------------------------

    def check_rules(self, rel: str, tracked: bool | None = None) -> None:
        """Refuse ``rel`` if exclude_patterns, or .gitignore for untracked files, exclude it.

        ``tracked`` is True for paths from ``git ls-files``: git never ignores a tracked file, so
        neither do we. None means unknown; git is asked only when an ignore rule matches.
        """
        if self._excludes.match_file(rel):
            raise PathRefused(
                rel,
                "excluded",
                f"{rel}: matches exclude_patterns in the configuration",
                hint="edit exclude_patterns in .code-query/config.json to document it",
            )
        if tracked:
            return
        source = self._ignores.ignored(rel)
        if source is None:
            return
        if tracked is None:
            try:
                if is_tracked(self.root, rel):
                    return
            except Exception:  # git missing or failing: the ignore rule stands
                pass
        raise PathRefused(
            rel,
            "ignored",
            f"{rel}: ignored by {source}",
            hint=f"remove the matching rule from {source} to document it",
        )

    # -- content ------------------------------------------------------------------------------

    def read(self, rel: str) -> FileContent:
        """Read a file that passes the guard, or raise PathRefused (``missing``: deleted)."""
        # Checked again here, not only in to_rel(): between enqueue and processing the file may
        # have been replaced by a symlink that leads out of the work tree.
        path = os.path.realpath(os.path.join(self._root_str, *rel.split("/")))
        if not PurePath(path).is_relative_to(self.root):
            raise PathRefused(
                rel,
                "escapes",
                f"{rel}: a symlink that leads outside the work tree (to {path})",
                hint="symlinks are followed only when their target is inside the repository",
            )
        try:
            st = os.stat(path)  # the target's type and size are what count
        except FileNotFoundError:
            raise PathRefused(rel, "missing", f"{rel}: no such file (deleted?)") from None
        except OSError as exc:
            raise PathRefused(rel, "unreadable", f"{rel}: cannot stat: {exc.strerror}") from None
        if not stat.S_ISREG(st.st_mode):
            kind = "a directory" if stat.S_ISDIR(st.st_mode) else "not a regular file"
            raise PathRefused(
                rel, "not_regular", f"{rel}: {kind}", hint="only regular files are documented"
            )
        if st.st_size > self.max_file_bytes:
            raise PathRefused(
                rel,
                "too_large",
                f"{rel}: {st.st_size:,} bytes is larger than max_file_bytes "
                f"({self.max_file_bytes:,})",
                hint="raise processor.max_file_bytes in .code-query/config.json to document it",
            )
        try:
            with open(path, "rb") as fh:
                # Read one byte past the limit: the file may have grown since stat().
                data = fh.read(self.max_file_bytes + 1)
        except OSError as exc:
            raise PathRefused(rel, "unreadable", f"{rel}: cannot read: {exc.strerror}") from None
        if len(data) > self.max_file_bytes:
            raise PathRefused(
                rel, "too_large", f"{rel}: larger than max_file_bytes ({self.max_file_bytes:,})"
            )
        if looks_binary(data[:BINARY_SNIFF_BYTES]):
            raise PathRefused(
                rel,
                "binary",
                f"{rel}: binary file (contains NUL bytes)",
                hint="binary files are not documented",
            )
        text, notes = decode_text(data)
        return FileContent(
            rel=rel,
            data=data,
            text=text,
            sha=blob_sha(data),
            size=len(data),
            mtime_ns=st.st_mtime_ns,
            notes=notes,
        )
