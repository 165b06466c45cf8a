"""The path guard: every way a path can be inside, outside, internal, ignored or unreadable."""

from __future__ import annotations

import os
import subprocess
from pathlib import Path

import pytest

from cq_lsp.errors import PathRefused
from cq_lsp.worktree.guard import PathGuard
from tests.conftest import make_repo, run_git

EXCLUDES = ["node_modules/", "*.min.js"]


def guard_for(root: Path, max_file_bytes: int = 1_000_000) -> PathGuard:
    return PathGuard(root, EXCLUDES, max_file_bytes)


def refusal(fn, *args, **kwargs) -> PathRefused:  # type: ignore[no-untyped-def]
    with pytest.raises(PathRefused) as info:
        fn(*args, **kwargs)
    return info.value


def git_hash_object(root: Path, path: Path | bytes) -> str:
    arg = path if isinstance(path, bytes) else os.fsencode(path)
    out = subprocess.run(
        [b"git", b"-C", os.fsencode(root), b"hash-object", b"--", arg],
        check=True,
        capture_output=True,
    ).stdout
    return out.decode().strip()


@pytest.fixture
def work(tmp_path: Path, isolated_env: dict[str, str]) -> Path:
    """``tmp_path/x/repo`` (a git repo) beside ``tmp_path/x/repo2`` (the prefix trap)."""
    root = make_repo(tmp_path / "x" / "repo", {"a.py": "A = 1\n", "sub/b.py": "B = 2\n"})
    sibling = tmp_path / "x" / "repo2"
    sibling.mkdir()
    (sibling / "file.py").write_text("SECRET = 1\n")
    return root


# -- naming: inside, outside, escapes, internal ---------------------------------------------------


def test_relative_and_absolute_paths_inside(work: Path) -> None:
    g = guard_for(work)
    assert g.to_rel("a.py") == "a.py"
    assert g.to_rel("sub/b.py") == "sub/b.py"
    assert g.to_rel("./sub/../a.py") == "a.py"
    assert g.to_rel(str(work / "sub" / "b.py")) == "sub/b.py"
    assert g.to_rel(work / "a.py") == "a.py"
    # Relative to a base directory (the CLI passes the current directory).
    assert g.to_rel("b.py", base=work / "sub") == "sub/b.py"
    assert g.to_rel("../a.py", base=work / "sub") == "a.py"
    # Files that do not exist can still be named (deletions).
    assert g.to_rel("gone/deleted.py") == "gone/deleted.py"


@pytest.mark.parametrize("raw", ["../outside.py", "sub/../../outside.py", "../../x/repo/../y"])
def test_dotdot_escapes_are_outside(work: Path, raw: str) -> None:
    err = refusal(guard_for(work).to_rel, raw)
    assert err.reason == "outside"
    assert err.path == raw
    assert raw in err.message and "outside the work tree" in err.message
    assert err.hint


def test_absolute_path_outside(work: Path, tmp_path: Path) -> None:
    outside = tmp_path / "elsewhere.py"
    err = refusal(guard_for(work).to_rel, str(outside))
    assert err.reason == "outside"
    assert str(outside) in err.message


@pytest.mark.parametrize("how", ["absolute", "relative", "relative-from-sub"])
def test_prefix_trap_sibling_directory_is_outside(work: Path, how: str) -> None:
    """``/tmp/x/repo2/file.py`` starts with the string ``/tmp/x/repo`` but is not inside it."""
    g = guard_for(work)
    sibling_file = work.parent / "repo2" / "file.py"
    assert str(sibling_file).startswith(str(work))  # the trap is real
    if how == "absolute":
        err = refusal(g.to_rel, str(sibling_file))
    elif how == "relative":
        err = refusal(g.to_rel, "../repo2/file.py")
    else:
        err = refusal(g.to_rel, "../../repo2/file.py", base=work / "sub")
    assert err.reason == "outside"
    assert "outside the work tree" in err.message


def test_empty_path_and_root_are_refused(work: Path) -> None:
    g = guard_for(work)
    assert refusal(g.to_rel, "").reason == "outside"
    err = refusal(g.to_rel, ".")
    assert err.reason == "outside"
    assert "work-tree root" in err.message


def test_symlink_to_outside_file_escapes(work: Path) -> None:
    target = work.parent / "repo2" / "file.py"
    (work / "link.py").symlink_to(target)
    err = refusal(guard_for(work).to_rel, "link.py")
    assert err.reason == "escapes"
    assert "link.py" in err.message and str(target) in err.message
    assert err.hint and "symlink" in err.hint


def test_symlink_to_outside_directory_escapes(work: Path) -> None:
    (work / "vendor").symlink_to(work.parent / "repo2", target_is_directory=True)
    g = guard_for(work)
    err = refusal(g.to_rel, "vendor/file.py")
    assert err.reason == "escapes"
    assert "vendor/file.py" in err.message
    assert refusal(g.to_rel, str(work / "vendor" / "file.py")).reason == "escapes"
    assert refusal(g.to_rel, "vendor").reason == "escapes"


def test_symlink_inside_to_inside_is_accepted_under_its_own_name(work: Path) -> None:
    (work / "alias.py").symlink_to("sub/b.py")
    (work / "subalias").symlink_to("sub", target_is_directory=True)
    g = guard_for(work)
    assert g.to_rel("alias.py") == "alias.py"
    assert g.to_rel("subalias/b.py") == "subalias/b.py"
    content = g.read("alias.py")
    assert content.rel == "alias.py"
    assert content.text == "B = 2\n"


def test_root_named_through_a_symlink(work: Path, tmp_path: Path) -> None:
    via = tmp_path / "via"
    via.symlink_to(work, target_is_directory=True)
    g = guard_for(via)
    assert g.root == work.resolve()
    assert g.to_rel(str(via / "sub" / "b.py")) == "sub/b.py"
    assert g.to_rel(str(work / "sub" / "b.py")) == "sub/b.py"


@pytest.mark.parametrize(
    "raw",
    [".git/config", ".code-query/config.json", "sub/.git/x", ".git", "sub/.code-query/index.db"],
)
def test_internal_directories_are_refused(work: Path, raw: str) -> None:
    err = refusal(guard_for(work).to_rel, raw)
    assert err.reason == "internal"
    assert raw in err.message
    assert ".git/" in err.message and ".code-query/" in err.message
    assert err.hint


def test_internal_refused_when_given_absolute(work: Path) -> None:
    err = refusal(guard_for(work).to_rel, str(work / ".git" / "HEAD"))
    assert err.reason == "internal"


# -- rules: .gitignore, tracked files, exclude_patterns --------------------------------------------


def ignored_by(g: PathGuard, rel: str) -> str:
    err = refusal(g.check_rules, rel)
    assert err.reason == "ignored", err
    assert rel in err.message
    assert err.hint
    return err.message


def test_root_gitignore_and_negation(work: Path) -> None:
    (work / ".gitignore").write_text("*.log\n!keep.log\nbuild/\n")
    g = guard_for(work)
    assert "ignored by .gitignore" in ignored_by(g, "debug.log")
    assert "ignored by .gitignore" in ignored_by(g, "sub/deep/trace.log")
    assert "ignored by .gitignore" in ignored_by(g, "build/out.py")
    g.check_rules("keep.log")  # negation re-includes it
    g.check_rules("sub/keep.log")
    g.check_rules("a.py")
    g.check_rules("builder.py")


def test_nested_gitignore_applies_relative_to_its_directory(work: Path) -> None:
    (work / "sub" / ".gitignore").write_text("*.tmp\n/only_here.txt\n")
    g = guard_for(work)
    assert "ignored by sub/.gitignore" in ignored_by(g, "sub/x.tmp")
    assert "ignored by sub/.gitignore" in ignored_by(g, "sub/deeper/x.tmp")
    assert "ignored by sub/.gitignore" in ignored_by(g, "sub/only_here.txt")
    g.check_rules("x.tmp")  # the rule lives in sub/, not at the root
    g.check_rules("sub/deeper/only_here.txt")  # anchored to sub/


def test_nested_gitignore_negation_overrides_root(work: Path) -> None:
    (work / ".gitignore").write_text("*.log\n")
    (work / "sub" / ".gitignore").write_text("!keep.log\n")
    g = guard_for(work)
    g.check_rules("sub/keep.log")
    assert "ignored by .gitignore" in ignored_by(g, "keep.log")
    assert "ignored by .gitignore" in ignored_by(g, "sub/other.log")


@pytest.mark.parametrize("layout", ["one-file", "nested-file"])
def test_file_in_ignored_directory_cannot_be_reincluded(work: Path, layout: str) -> None:
    """git: "It is not possible to re-include a file if a parent directory of that file is
    excluded." Compare with git itself."""
    (work / "logs").mkdir()
    (work / "logs" / "keep.log").write_text("kept?\n")
    if layout == "one-file":
        (work / ".gitignore").write_text("logs/\n!logs/keep.log\n")
    else:
        (work / ".gitignore").write_text("logs/\n")
        (work / "logs" / ".gitignore").write_text("!keep.log\n")
    check = subprocess.run(["git", "-C", str(work), "check-ignore", "-q", "logs/keep.log"])
    assert check.returncode == 0  # git ignores it
    assert "ignored by .gitignore" in ignored_by(guard_for(work), "logs/keep.log")


def test_git_info_exclude(work: Path) -> None:
    (work / ".git" / "info").mkdir(exist_ok=True)
    (work / ".git" / "info" / "exclude").write_text("secret-notes.txt\n")
    g = guard_for(work)
    assert "ignored by .git/info/exclude" in ignored_by(g, "secret-notes.txt")
    g.check_rules("notes.txt")


def test_gitignore_changes_are_seen(work: Path) -> None:
    g = guard_for(work)
    g.check_rules("later.log")
    (work / ".gitignore").write_text("later.log\n")
    assert "ignored by .gitignore" in ignored_by(g, "later.log")


def test_snapshot_gives_the_same_verdicts_and_forgets_at_its_end(work: Path) -> None:
    """The worker checks a batch inside one snapshot: same answers as outside, and an ignore
    file edited after the snapshot is read again."""
    (work / ".gitignore").write_text("*.log\nbuild/\n")
    (work / "sub" / ".gitignore").write_text("!keep.log\n*.tmp\n")
    (work / ".git" / "info").mkdir(exist_ok=True)
    (work / ".git" / "info" / "exclude").write_text("secret.txt\n")
    paths = [
        "a.py",
        "debug.log",
        "sub/keep.log",
        "sub/x.tmp",
        "sub/deeper/x.tmp",
        "build/out.py",
        "sub/build/out.py",
        "secret.txt",
        "sub/deeper/ok.py",
    ]

    def verdicts(g: PathGuard) -> list[str | None]:
        out: list[str | None] = []
        for rel in paths:
            try:
                g.check_rules(rel)
                out.append(None)
            except PathRefused as err:
                out.append(err.message)
        return out

    g = guard_for(work)
    outside = verdicts(g)
    assert outside.count(None) == 3  # a.py, sub/keep.log, sub/deeper/ok.py
    with g.snapshot():
        assert verdicts(g) == outside
        # Twice within the snapshot: the memo gives the same answers.
        assert verdicts(g) == outside
    (work / "sub" / ".gitignore").write_text("*.py\n")
    assert "ignored by sub/.gitignore" in ignored_by(g, "sub/deeper/ok.py")
    with g.snapshot():
        assert "ignored by sub/.gitignore" in ignored_by(g, "sub/deeper/ok.py")
        g.check_rules("sub/x.tmp")  # no longer ignored


def test_tracked_file_matching_gitignore_is_accepted(work: Path) -> None:
    (work / "tracked.log").write_text("tracked\n")
    run_git(work, "add", "tracked.log")
    run_git(work, "commit", "-q", "-m", "add log")
    (work / ".gitignore").write_text("*.log\n")
    (work / "untracked.log").write_text("untracked\n")
    g = guard_for(work)
    g.check_rules("tracked.log")  # tracked=None: git is asked
    g.check_rules("tracked.log", tracked=True)
    assert "ignored by .gitignore" in ignored_by(g, "untracked.log")
    # tracked=False trusts the caller and does not ask git.
    err = refusal(g.check_rules, "tracked.log", tracked=False)
    assert err.reason == "ignored"


@pytest.mark.parametrize(
    "rel", ["node_modules/pkg/index.js", "web/node_modules/x.js", "static/app.min.js", "app.min.js"]
)
def test_exclude_patterns(work: Path, rel: str) -> None:
    g = guard_for(work)
    for tracked in (None, True, False):
        err = refusal(g.check_rules, rel, tracked=tracked)
        assert err.reason == "excluded"
        assert err.message == f"{rel}: matches exclude_patterns in the configuration"
        assert err.hint and "exclude_patterns" in err.hint


def test_exclude_patterns_do_not_overreach(work: Path) -> None:
    g = guard_for(work)
    g.check_rules("app.js")
    g.check_rules("node_modules.py")
    g.check_rules("minimal.js")


# -- read(): the file itself -----------------------------------------------------------------------


def test_read_missing(work: Path) -> None:
    err = refusal(guard_for(work).read, "nope.py")
    assert err.reason == "missing"
    assert err.message == "nope.py: no such file (deleted?)"


def test_read_directory_is_not_regular(work: Path) -> None:
    err = refusal(guard_for(work).read, "sub")
    assert err.reason == "not_regular"
    assert err.message == "sub: a directory"
    assert err.hint == "only regular files are documented"


def test_read_fifo_is_not_regular(work: Path) -> None:
    os.mkfifo(work / "pipe")
    err = refusal(guard_for(work).read, "pipe")  # must not block on open()
    assert err.reason == "not_regular"
    assert err.message == "pipe: not a regular file"


def test_read_too_large(work: Path) -> None:
    (work / "big.py").write_bytes(b"x" * 101)
    (work / "fits.py").write_bytes(b"y" * 100)
    g = guard_for(work, max_file_bytes=100)
    err = refusal(g.read, "big.py")
    assert err.reason == "too_large"
    assert "big.py" in err.message
    assert "101 bytes" in err.message
    assert "max_file_bytes (100)" in err.message
    assert err.hint and "max_file_bytes" in err.hint
    assert g.read("fits.py").size == 100


def test_read_binary(work: Path) -> None:
    (work / "blob.bin").write_bytes(b"\x89PNG\r\n\x1a\n\x00\x00\x00\rIHDR")
    err = refusal(guard_for(work).read, "blob.bin")
    assert err.reason == "binary"
    assert err.message == "blob.bin: binary file (contains NUL bytes)"
    assert err.hint


def test_read_latin1_is_documented_with_a_note(work: Path) -> None:
    data = "# café crème\nNAME = 'Zoë'\n".encode("latin-1")
    (work / "latin.py").write_bytes(data)
    content = guard_for(work).read("latin.py")
    assert content.data == data
    assert content.text.startswith("# caf\ufffd cr\ufffdme\n")
    assert len(content.notes) == 1
    assert "not valid UTF-8" in content.notes[0]
    assert "offset 5" in content.notes[0]
    assert content.sha == git_hash_object(work, work / "latin.py")


def test_read_utf8_bom(work: Path) -> None:
    data = b"\xef\xbb\xbfprint('h\xc3\xa9')\n"
    (work / "bom.py").write_bytes(data)
    content = guard_for(work).read("bom.py")
    assert content.text == "print('hé')\n"  # the BOM is not part of the text
    assert content.notes == ()
    assert content.data == data
    assert content.size == len(data)
    assert content.sha == git_hash_object(work, work / "bom.py")


def test_read_returns_sha_equal_to_git_hash_object(work: Path) -> None:
    content = guard_for(work).read("sub/b.py")
    assert content.rel == "sub/b.py"
    assert content.text == "B = 2\n"
    assert content.notes == ()
    assert content.size == 6
    assert content.mtime_ns == (work / "sub" / "b.py").stat().st_mtime_ns
    assert content.sha == git_hash_object(work, work / "sub" / "b.py")
    assert content.sha == run_git(work, "ls-files", "-s", "sub/b.py").split()[1]


def test_read_empty_file(work: Path) -> None:
    (work / "empty.py").write_bytes(b"")
    content = guard_for(work).read("empty.py")
    assert content.text == ""
    assert content.sha == "e69de29bb2d1d6434b8b29ae775ad8c2e48c5391"  # git's empty blob


# -- odd names -------------------------------------------------------------------------------------


def test_name_with_spaces_round_trips(work: Path) -> None:
    (work / "my dir").mkdir()
    (work / "my dir" / "a file.py").write_text("X = 1\n")
    g = guard_for(work)
    rel = g.to_rel("my dir/a file.py")
    assert rel == "my dir/a file.py"
    assert g.to_rel(str(work / "my dir" / "a file.py")) == rel
    content = g.read(rel)
    assert content.text == "X = 1\n"
    assert content.sha == git_hash_object(work, work / "my dir" / "a file.py")


def test_non_utf8_name_round_trips(work: Path) -> None:
    raw_name = b"caf\xe9.py"
    raw_path = os.path.join(os.fsencode(work), raw_name)
    with open(raw_path, "wb") as fh:
        fh.write(b"CAFE = 1\n")
    g = guard_for(work)
    rel = g.to_rel(raw_name)
    assert rel == "caf\udce9.py"
    assert os.fsencode(rel) == raw_name
    assert g.to_rel(raw_path) == rel
    assert os.fsencode(g.abspath(rel)) == raw_path
    content = g.read(rel)
    assert content.rel == rel
    assert content.text == "CAFE = 1\n"
    assert content.sha == git_hash_object(work, raw_path)
    g.check_rules(rel)  # untracked, not ignored: git is not even asked


def test_non_utf8_name_tracked_and_ignored(work: Path) -> None:
    raw_name = b"caf\xe9.log"
    raw_path = os.path.join(os.fsencode(work), raw_name)
    with open(raw_path, "wb") as fh:
        fh.write(b"log\n")
    subprocess.run([b"git", b"-C", os.fsencode(work), b"add", b"--", raw_name], check=True)
    (work / ".gitignore").write_text("*.log\n")
    g = guard_for(work)
    rel = g.to_rel(raw_name)
    g.check_rules(rel)  # tracked (git asked with the raw name): accepted
    (work / "other.log").write_text("x\n")
    assert "ignored by .gitignore" in ignored_by(g, "other.log")


def test_every_refusal_names_the_path(work: Path) -> None:
    """One sweep: whatever the reason, the message names the path and there is guidance."""
    (work / "link.py").symlink_to(work.parent / "repo2" / "file.py")
    (work / ".gitignore").write_text("*.log\n")
    (work / "blob.bin").write_bytes(b"\0\0")
    (work / "big.py").write_bytes(b"z" * 50)
    g = guard_for(work, max_file_bytes=10)
    cases = [
        (g.to_rel, "../repo2/file.py", "outside"),
        (g.to_rel, "link.py", "escapes"),
        (g.to_rel, ".git/config", "internal"),
        (g.check_rules, "x.log", "ignored"),
        (g.check_rules, "node_modules/a.js", "excluded"),
        (g.read, "missing.py", "missing"),
        (g.read, "sub", "not_regular"),
        (g.read, "big.py", "too_large"),
        (g.read, "blob.bin", "binary"),
    ]
    for fn, raw, reason in cases:
        err = refusal(fn, raw)
        assert err.reason == reason, (raw, err.reason)
        assert raw in err.message, (raw, err.message)
        assert err.hint or reason == "missing", (raw, err)
        assert err.exit_code == 1


def test_file_swapped_for_an_escaping_symlink_after_naming_is_refused_on_read(work: Path) -> None:
    guard = guard_for(work)
    rel = guard.to_rel("a.py")  # named while it was a regular file (enqueue time)
    (work / "a.py").unlink()
    (work / "a.py").symlink_to(work.parent / "repo2" / "file.py")  # swapped before processing
    r = refusal(guard.read, rel)
    assert r.reason == "escapes"
    assert "outside the work tree" in r.message


def test_read_refuses_internal_paths_and_links_whatever_the_caller_checked(
    tmp_path: Path, isolated_env: dict[str, str]
) -> None:
    root = make_repo(tmp_path / "r", {"a.py": "x = 1\n"})
    os.symlink(str(root / "sub" / ".." / ".git" / "config"), root / "abs_dotdot.txt")
    (root / "sub").mkdir()
    os.symlink(str(root) + "/../r/a.py", root / "abs_escape.py")
    guard = guard_for(root)
    assert refusal(guard.read, ".git/config").reason == "internal"
    assert refusal(guard.read, "abs_dotdot.txt").reason == "internal_link"
    assert refusal(guard.read, "abs_escape.py").reason == "escapes"
    assert guard.read("a.py").text == "x = 1\n"
