"""The one path guard every entry point uses: a path is documented only if it passes all of it.

Order of checks: lexically inside the root → symlinks resolved and still inside → not in ``.git/``
or ``.code-query/`` → not ignored by ``.gitignore`` (tracked files excepted, as in git) → not in
``exclude_patterns`` → a regular file no larger than ``max_file_bytes`` → text, not binary.
Each refusal is a :class:`PathRefused` with a short ``reason`` code that the ledger records.

Names are resolved and files opened one component at a time from a descriptor of the root
(``openat`` with ``O_NOFOLLOW``): the kernel never follows a symlink for us. A symlink is followed
by reading it and re-checking where it leads, so swapping a directory for a symlink between the
check and the read cannot make the guard read a file outside the work tree, and a path whose
resolved location is inside a git dir or ``.code-query/`` is refused whatever name leads there.
"""

from __future__ import annotations

import errno
import os
import stat
import threading
from collections.abc import Iterator, Sequence
from contextlib import AbstractContextManager, contextmanager
from pathlib import Path, PurePath, PurePosixPath

import attrs

from cq_lsp.errors import PathRefused
from cq_lsp.worktree.git import blob_sha, git_dirs, is_tracked

INTERNAL_DIRS = frozenset({".git", ".code-query"})
BINARY_SNIFF_BYTES = 8192
#: Symlinks followed for one path before it is refused, as the kernel's own limit (MAXSYMLINKS).
MAX_SYMLINKS = 40
#: The longest file-name component Linux and macOS file systems accept, in bytes.
NAME_MAX = 255
_O_CLOEXEC = getattr(os, "O_CLOEXEC", 0)
_O_DIRECTORY = getattr(os, "O_DIRECTORY", 0)
_O_NOFOLLOW = getattr(os, "O_NOFOLLOW", 0)
_O_NONBLOCK = getattr(os, "O_NONBLOCK", 0)
#: Where the kernel says which file a descriptor is (Linux); a belt to the openat walk's braces.
_PROC_FD = "/proc/self/fd"


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
        self._git_prefixes = self._internal_prefixes()

    def _internal_prefixes(self) -> tuple[tuple[str, ...], ...]:
        """Git dirs inside the work tree that are not named ``.git`` (``--separate-git-dir`` into
        the tree, ``$GIT_DIR``/``$GIT_COMMON_DIR``), as component tuples below the root."""
        found: list[Path] = []
        dirs = git_dirs(self.root)
        if dirs is not None:
            found.extend(dirs)
        for var in ("GIT_DIR", "GIT_COMMON_DIR"):
            value = os.environ.get(var)
            if value:
                found.append(Path(self._root_str, value))
        prefixes: set[tuple[str, ...]] = set()
        for path in found:
            try:
                real = PurePath(os.path.realpath(path))
            except (OSError, ValueError):
                continue
            if real != self.root and real.is_relative_to(self.root):
                prefixes.add(real.relative_to(self.root).parts)
        return tuple(prefixes)

    # -- naming -----------------------------------------------------------------------------

    def to_rel(self, raw: str | os.PathLike[str] | bytes, base: Path | None = None) -> str:
        """Repo-relative POSIX path for ``raw`` (absolute, or relative to ``base``/the root).

        Refuses paths outside the root (``outside``), symlinks leading out of it (``escapes``),
        anything inside ``.git/`` or ``.code-query/`` (``internal``) or leading there through a
        symlink (``internal_link``), and names no file system accepts (``bad_name``,
        ``symlink_loop``). The file need not exist, so deletions can be named.
        """
        shown = os.fsdecode(raw) if isinstance(raw, bytes) else os.fspath(raw)
        if not shown:
            raise PathRefused(shown, "outside", "empty path", hint="name a file in the work tree")
        if "\0" in shown:
            raise PathRefused(
                shown,
                "bad_name",
                f"{shown!r}: contains a NUL byte, which no file name can",
                hint="name a file in the work tree",
            )
        # Strings and one PurePath per check rather than Path objects: `index` names every
        # tracked file, and pathlib's constructors were most of its cost.
        joined = os.path.join(os.fspath(base or self.root), shown)
        lexical = os.path.normpath(joined)
        rel_parts = self._parts_inside(lexical)
        if rel_parts is None:
            # The caller may name the root through a symlink (e.g. /tmp vs /private/tmp).
            try:
                parent_real = os.path.realpath(os.path.dirname(lexical))
            except (OSError, ValueError):
                parent_real = os.path.dirname(lexical)
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
        if any(part in INTERNAL_DIRS for part in rel_parts) or self._in_git_dir(rel_parts):
            raise PathRefused(
                shown,
                "internal",
                f"{shown}: inside .git/ or .code-query/",
                hint="these hold git's and cq-lsp's own data and are never documented",
            )
        rel = "/".join(rel_parts)
        for part in rel_parts:
            self._check_name(rel, part)
        self._walk(rel, rel_parts, open_final=False)
        return rel

    def _parts_inside(self, path: str) -> tuple[str, ...] | None:
        """The components of ``path`` below the root, or None when it is not inside it."""
        pure = PurePath(path)
        if not pure.is_relative_to(self.root):
            return None
        return pure.relative_to(self.root).parts

    def _in_git_dir(self, parts: Sequence[str]) -> bool:
        return any(tuple(parts[: len(prefix)]) == prefix for prefix in self._git_prefixes)

    @staticmethod
    def _check_name(rel: str, part: str) -> None:
        if "\0" in part:
            raise PathRefused(
                rel,
                "bad_name",
                f"{rel!r}: contains a NUL byte, which no file name can",
                hint="name a file in the work tree",
            )
        size = len(os.fsencode(part))
        if size > NAME_MAX:
            raise PathRefused(
                rel,
                "bad_name",
                f"{rel[:80]}…: a name of {size} bytes is longer than file systems allow "
                f"({NAME_MAX})",
                hint="no such file can exist; name a file in the work tree",
            )

    def _refuse_os(self, rel: str, exc: OSError, doing: str) -> PathRefused:
        """An OSError met while resolving or reading ``rel``, as a refusal with a reason."""
        code = exc.errno
        if code in (errno.ENOENT, errno.ENOTDIR):
            return PathRefused(rel, "missing", f"{rel}: no such file (deleted?)")
        if code == errno.ELOOP:
            return PathRefused(
                rel,
                "symlink_loop",
                f"{rel}: too many levels of symbolic links",
                hint="fix the symlink loop to document it",
            )
        if code in (errno.ENAMETOOLONG, errno.EINVAL, errno.EILSEQ):
            return PathRefused(
                rel,
                "bad_name",
                f"{rel[:200]}: {os.strerror(code)}",
                hint="no such file can exist; name a file in the work tree",
            )
        return PathRefused(rel, "unreadable", f"{rel}: cannot {doing}: {exc.strerror or exc}")

    def _escapes(self, rel: str, target: str) -> PathRefused:
        return PathRefused(
            rel,
            "escapes",
            f"{rel}: a symlink that leads outside the work tree (to {target})",
            hint="symlinks are followed only when their target is inside the repository",
        )

    def _walk(self, rel: str, parts: Sequence[str], *, open_final: bool) -> tuple[int | None, str]:
        """Follow ``parts`` from a descriptor of the root, one component at a time.

        Every component is opened relative to the directory opened before it, with
        ``O_NOFOLLOW``; a symlink is read and its target walked the same way, from the root or
        from the directory holding it, so no name can lead out of the work tree, whatever is
        renamed meanwhile. Returns the final file's descriptor (when ``open_final``; the caller
        closes it) and its resolved repo-relative path. Without ``open_final`` a missing
        component ends the walk quietly: deleted files can still be named.
        """
        pending = list(parts)
        stack: list[tuple[str, int]] = []  # resolved components and their open directories
        links = retries = 0
        try:
            root_fd = os.open(self._root_str, os.O_RDONLY | _O_DIRECTORY | _O_CLOEXEC)
        except OSError as exc:
            raise self._refuse_os(rel, exc, "open the work tree") from None
        fd: int | None = None
        try:
            while pending:
                name = pending.pop(0)
                if name in ("", "."):
                    continue
                if name == "..":
                    if not stack:
                        raise self._escapes(rel, "above the work-tree root")
                    os.close(stack.pop()[1])
                    continue
                self._check_name(rel, name)
                dir_fd = stack[-1][1] if stack else root_fd
                last = not pending
                try:
                    if last and not open_final:
                        st = os.lstat(name, dir_fd=dir_fd)
                        if not stat.S_ISLNK(st.st_mode):
                            stack.append((name, -1))
                            break
                        raise OSError(errno.ELOOP, "a symlink")
                    flags = os.O_RDONLY | _O_NOFOLLOW | _O_CLOEXEC | _O_NONBLOCK
                    opened = os.open(name, flags if last else flags | _O_DIRECTORY, dir_fd=dir_fd)
                except OSError as exc:
                    target = None
                    if exc.errno in (errno.ELOOP, errno.ENOTDIR, errno.EMLINK):
                        try:
                            target = os.readlink(name, dir_fd=dir_fd)
                        except OSError as again:
                            # A symlink a moment ago, something else now (it was swapped
                            # between the two calls): look at this component again, a few
                            # times, rather than call a file that exists "missing".
                            if again.errno == errno.EINVAL and retries < MAX_SYMLINKS:
                                retries += 1
                                pending.insert(0, name)
                                continue
                    if target is None:
                        if exc.errno in (errno.ENOENT, errno.ENOTDIR) and not open_final:
                            break  # the rest need not exist to be named
                        raise self._refuse_os(rel, exc, "open") from None
                    links += 1
                    if links > MAX_SYMLINKS:
                        raise self._refuse_os(rel, OSError(errno.ELOOP, "loop"), "open") from None
                    if "\0" in target or not target:
                        raise self._escapes(rel, repr(target)) from None
                    if os.path.isabs(target):
                        # Not normalised: a ".." in the target is walked like any other, from
                        # the directory it names, and refused if it climbs above the root.
                        inside = self._parts_inside(target)
                        if inside is None:
                            raise self._escapes(rel, target) from None
                        for _, held in stack:
                            if held >= 0:
                                os.close(held)
                        stack.clear()
                        pending[:0] = inside
                    else:
                        pending[:0] = target.split("/")
                    continue
                if last:
                    fd = opened
                    stack.append((name, -1))
                    break
                stack.append((name, opened))
            resolved = tuple(name for name, _ in stack)
            if any(p in INTERNAL_DIRS for p in resolved) or self._in_git_dir(resolved):
                if resolved == tuple(parts):
                    raise PathRefused(
                        rel,
                        "internal",
                        f"{rel}: inside .git/ or .code-query/",
                        hint="these hold git's and cq-lsp's own data and are never documented",
                    )
                raise PathRefused(
                    rel,
                    "internal_link",
                    f"{rel}: a symlink that leads into .git/ or .code-query/ "
                    f"(to {'/'.join(resolved)})",
                    hint="git's and cq-lsp's own data is never documented, whatever name leads "
                    "there",
                )
            if fd is not None:
                self._verify_opened(rel, fd)
            result, fd = fd, None
            return result, "/".join(resolved)
        finally:
            if fd is not None:
                os.close(fd)
            for _, held in stack:
                if held >= 0:
                    os.close(held)
            os.close(root_fd)

    def _verify_opened(self, rel: str, fd: int) -> None:
        """Ask the kernel where the opened file is: a directory moved out of the work tree
        while we held it would show here."""
        try:
            where = os.readlink(f"{_PROC_FD}/{fd}")
        except OSError:
            return  # no /proc (macOS): the openat walk alone stands
        parts = self._parts_inside(where)
        if parts is None:
            raise self._escapes(rel, where)
        if any(p in INTERNAL_DIRS for p in parts) or self._in_git_dir(parts):
            raise PathRefused(
                rel,
                "internal_link",
                f"{rel}: leads into .git/ or .code-query/ (to {where})",
                hint="git's and cq-lsp's own data is never documented, whatever name leads there",
            )

    def exists(self, rel: str) -> bool:
        """Whether ``rel`` names something on disk (a dangling symlink counts); a name no file
        system accepts names nothing, rather than raising."""
        try:
            os.lstat(os.path.join(self._root_str, *rel.split("/")))
        except (OSError, ValueError):
            return False
        return True

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
        """Read a file that passes the guard, or raise PathRefused (``missing``: deleted).

        The file is found and opened by the same walk that checks where it is (see
        :meth:`_walk`), so what is read is what was checked: between enqueue and processing the
        file, or a directory above it, may have been replaced by a symlink leading elsewhere.
        """
        parts = rel.split("/")
        for part in parts:
            self._check_name(rel, part)
        fd, _ = self._walk(rel, parts, open_final=True)
        assert fd is not None
        try:
            try:
                st = os.fstat(fd)  # the opened file's type and size are what count
            except OSError as exc:
                raise self._refuse_os(rel, exc, "stat") from None
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
                # Read one byte past the limit: the file may have grown since fstat().
                chunks: list[bytes] = []
                left = self.max_file_bytes + 1
                while left > 0:
                    chunk = os.read(fd, min(left, 1 << 20))
                    if not chunk:
                        break
                    chunks.append(chunk)
                    left -= len(chunk)
                data = b"".join(chunks)
            except OSError as exc:
                raise self._refuse_os(rel, exc, "read") from None
        finally:
            os.close(fd)
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
