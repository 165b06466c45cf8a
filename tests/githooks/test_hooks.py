"""Git hooks end to end: real git operations in temp repositories fire the installed shims, which
run the real `cq-lsp hook` in the background; the ledger (`queue list --json`) and the index
(`search --json`) say what they did."""

from __future__ import annotations

import json
import os
import sqlite3
import stat
import subprocess
import sys
from pathlib import Path
from typing import Any

import psutil
import pytest

from cq_lsp.githooks.install import HOOK_NAMES, render_shim
from tests.conftest import Cq, run_git, wait_until

REPO_ROOT = Path(__file__).resolve().parents[2]


# -- helpers -------------------------------------------------------------------------------------


def hook_processes(root: Path) -> list[psutil.Process]:
    """Shims and `cq-lsp hook` processes still working in ``root`` (git runs hooks there)."""
    found = []
    real = str(root.resolve())
    for proc in psutil.process_iter(["pid", "cmdline"]):
        try:
            cmd = " ".join(proc.info["cmdline"] or [])
            if "hook" in cmd and proc.pid != os.getpid() and proc.cwd() == real:
                found.append(proc)
        except (psutil.Error, OSError):
            continue
    return found


def settle(*roots: Path) -> None:
    """Wait until every hook started in ``roots`` has finished its background work."""
    for root in roots:
        wait_until(lambda r=root: not hook_processes(r), timeout=60)


def git(root: Path, *args: str, env: dict[str, str] | None = None) -> str:
    """A git command as a user types it; the hooks it fires have run to the end on return."""
    proc = subprocess.run(["git", "-C", str(root), *args], capture_output=True, text=True, env=env)
    if proc.returncode != 0:
        raise AssertionError(f"git {' '.join(args)} exited {proc.returncode}: {proc.stderr}")
    settle(root)
    return proc.stdout


def write(root: Path, rel: str, text: str) -> None:
    p = root / rel
    p.parent.mkdir(parents=True, exist_ok=True)
    p.write_text(text, encoding="utf-8")


def commit(root: Path, message: str = "change", *paths: str) -> None:
    """Commit the work tree (or ``paths``); .code-query/ stays out unless named, or branch
    switches would add and remove its config.json."""
    git(root, "add", "-A", "--", *(paths or (".", ":(exclude).code-query")))
    git(root, "commit", "-q", "-m", message)


def jobs(cq: Cq) -> dict[str, dict[str, Any]]:
    return {j["path"]: j for j in cq.json("queue", "list")["jobs"]}


def queued(cq: Cq) -> set[str]:
    return {p for p, j in jobs(cq).items() if j["state"] == "queued"}


def log_lines(root: Path) -> list[str]:
    log = root / ".code-query" / "logs" / "hooks.log"
    return log.read_text(encoding="utf-8", errors="replace").splitlines() if log.exists() else []


def done_lines(root: Path) -> list[str]:
    return [ln for ln in log_lines(root) if "done:" in ln]


def _post_runs(root: Path) -> list[str]:
    """Runs of the hooks that name commits (post-index-change also runs on checkouts)."""
    return [ln for ln in done_lines(root) if "post-index-change" not in ln]


def setup_hooks(cq: Cq, *, mode: str = "manual", delay: int = 0) -> None:
    """init, a mode and a delay, hooks installed; manual mode means no worker ever runs."""
    cq.run("init")
    cq.run("config", "set", "processing.mode", mode)
    cq.run("config", "set", "processing.delay_seconds", str(delay))
    cq.run("hooks", "install")


def document_all(cq: Cq) -> None:
    """Document every tracked file now, in the foreground (manual mode)."""
    cq.run("index", "--wait")
    assert not queued(cq)


def searchable(cq: Cq, word: str) -> set[str]:
    return {r["path"] for r in cq.json("search", word)["results"]}


# -- the shims -----------------------------------------------------------------------------------


def test_reference_shims_in_hooks_dir_are_what_install_writes() -> None:
    for hook in HOOK_NAMES:
        path = REPO_ROOT / "hooks" / hook
        assert path.read_text(encoding="utf-8") == render_shim(hook), (
            f"hooks/{hook} is stale: regenerate it with cq_lsp.githooks.install.render_shim"
        )
        assert path.stat().st_mode & stat.S_IXUSR
        for shell in ("sh", "bash"):
            subprocess.run([shell, "-n", str(path)], check=True)
        installed = render_shim(hook, "/opt/py'thon/bin/python")
        assert installed.splitlines()[1] == f"# cq-lsp-hook-shim v1 {hook}"
        assert "PY='/opt/py'\\''thon/bin/python'" in installed


def test_install_status_uninstall(cq: Cq, repo: Path) -> None:
    cq.run("init")
    out = cq.json("hooks", "install")
    assert {h["name"]: h["action"] for h in out["hooks"]} == dict.fromkeys(HOOK_NAMES, "installed")
    hooks_dir = repo / ".git" / "hooks"
    for hook in HOOK_NAMES:
        text = (hooks_dir / hook).read_text()
        assert f"PY='{os.path.abspath(sys.executable)}'" in text
        assert (hooks_dir / hook).stat().st_mode & stat.S_IXUSR
    st = cq.json("hooks", "status")
    assert st["installed"] is True
    assert [h["state"] for h in st["hooks"]] == ["installed"] * len(HOOK_NAMES)
    assert all(h["version"] == 1 and h["pythonExists"] for h in st["hooks"])
    # The people's view: one column of paths, however long a hook's name (post-index-change).
    for command in (("hooks", "status"), ("hooks", "install")):
        lines = [ln for ln in cq.run(*command).stdout.splitlines() if str(hooks_dir) in ln][1:]
        assert len(lines) == len(HOOK_NAMES), lines
        assert len({ln.index(str(hooks_dir)) for ln in lines}) == 1, lines
    again = cq.json("hooks", "install")
    assert {h["action"] for h in again["hooks"]} == {"unchanged"}
    gone = cq.json("hooks", "uninstall")
    assert {h["action"] for h in gone["hooks"]} == {"removed"}
    assert not any((hooks_dir / h).exists() for h in HOOK_NAMES)
    assert cq.json("hooks", "status")["installed"] is False


def test_init_hooks_installs_them(cq: Cq, repo: Path) -> None:
    out = cq.json("init", "--hooks")
    assert {h["action"] for h in out["hooks"]["hooks"]} == {"installed"}
    assert "cq-lsp-hook-shim v1" in (repo / ".git" / "hooks" / "post-commit").read_text()


# -- what each hook queues -----------------------------------------------------------------------


def test_commit_queues_new_and_changed_files_and_deletions_leave(cq: Cq, repo: Path) -> None:
    setup_hooks(cq)
    document_all(cq)
    assert "billing/invoice.py" in searchable(cq, "InvoiceTotals")
    write(repo, "billing/tax.py", "def vat_for(amount):\n    return amount * 0.2\n")
    write(repo, "README.md", "# Sample shop\n\nNow with taxes.\n")
    (repo / "billing" / "invoice.py").unlink()
    commit(repo)
    assert queued(cq) == {"billing/tax.py", "README.md"}
    assert "billing/invoice.py" not in jobs(cq)
    assert "billing/invoice.py" not in searchable(cq, "InvoiceTotals")  # it left the index
    assert len(done_lines(repo)) == 1
    assert all(
        j["source"] == "hook:post-commit" for j in jobs(cq).values() if j["state"] == "queued"
    )


def test_root_commit_is_listed(tmp_path: Path, cq_factory: Any) -> None:
    root = tmp_path / "fresh"
    root.mkdir()
    run_git(root, "init", "-q", "-b", "main")
    cq = cq_factory(root)
    setup_hooks(cq)
    write(root, "first.py", "def first():\n    pass\n")
    commit(root, "root commit")
    assert queued(cq) == {"first.py"}


def test_merges_fast_forward_no_ff_conflicted_and_squash(cq: Cq, repo: Path) -> None:
    setup_hooks(cq)
    document_all(cq)
    git(repo, "switch", "-q", "-c", "feature")
    write(repo, "feature_a.py", "A = 1\n")
    commit(repo)
    git(repo, "switch", "-q", "main")
    assert "feature_a.py" not in jobs(cq)  # gone from the work tree again: left the index
    git(repo, "merge", "-q", "--ff-only", "feature")  # post-merge: ORIG_HEAD..HEAD
    assert queued(cq) == {"feature_a.py"}
    document_all(cq)

    # A merge commit made by `git merge`: post-merge names what the other side brought.
    git(repo, "switch", "-q", "-c", "side")
    write(repo, "side_b.py", "B = 2\n")
    commit(repo)
    git(repo, "switch", "-q", "main")
    write(repo, "main_c.py", "C = 3\n")
    commit(repo)
    document_all(cq)
    git(repo, "merge", "-q", "--no-ff", "-m", "merge side", "side")
    assert queued(cq) == {"side_b.py"}
    document_all(cq)

    # A conflicted merge is committed by `git commit`: post-commit diffs the merge commit
    # against its first parent.
    git(repo, "switch", "-q", "-c", "conflict")
    write(repo, "README.md", "# theirs\n")
    write(repo, "theirs_d.py", "D = 4\n")
    commit(repo)
    git(repo, "switch", "-q", "main")
    write(repo, "README.md", "# ours\n")
    commit(repo)
    document_all(cq)
    proc = subprocess.run(["git", "-C", str(repo), "merge", "conflict"], capture_output=True)
    assert proc.returncode != 0  # stopped on the conflict; post-merge does not fire
    settle(repo)
    write(repo, "README.md", "# both\n")
    commit(repo, "resolved")
    assert queued(cq) == {"README.md", "theirs_d.py"}
    document_all(cq)

    # A squash merge leaves HEAD where it was: the change is in the index and work tree.
    git(repo, "switch", "-q", "-c", "squashed")
    write(repo, "squash_e.py", "E = 5\n")
    commit(repo)
    git(repo, "switch", "-q", "main")
    document_all(cq)
    git(repo, "merge", "-q", "--squash", "squashed")
    assert queued(cq) == {"squash_e.py"}


def test_amend_queues_the_rewritten_commit(cq: Cq, repo: Path) -> None:
    setup_hooks(cq)
    document_all(cq)
    write(repo, "a.py", "A = 1\n")
    commit(repo)
    document_all(cq)
    write(repo, "b.py", "B = 2\n")
    git(repo, "add", "b.py")
    git(repo, "commit", "-q", "--amend", "--no-edit")
    assert queued(cq) == {"b.py"}  # a.py is unchanged: its job stays done
    runs = done_lines(repo)
    assert any("post-commit" in ln for ln in runs) and any("post-rewrite" in ln for ln in runs)
    assert any("amend: rewritten pairs" in ln for ln in runs)
    # Amending a file out of the commit (it stays on disk, untracked): still documented as is.
    git(repo, "rm", "-q", "--cached", "a.py")
    git(repo, "commit", "-q", "--amend", "--no-edit")
    assert jobs(cq)["a.py"]["state"] == "done"


def test_checkout_branch_switch_file_checkout_and_detached_head(cq: Cq, repo: Path) -> None:
    setup_hooks(cq)
    git(repo, "switch", "-q", "-c", "other")
    write(repo, "only_other.py", "OTHER = 1\n")
    write(repo, "README.md", "# other readme\n")
    commit(repo)
    git(repo, "switch", "-q", "main")
    document_all(cq)
    before = len(_post_runs(repo))
    git(repo, "switch", "-q", "other")
    assert queued(cq) == {"only_other.py", "README.md"}
    document_all(cq)
    git(repo, "switch", "-q", "main")
    assert "only_other.py" not in jobs(cq)  # gone from the work tree: gone from the index
    assert queued(cq) == {"README.md"}
    document_all(cq)
    # `switch -c` at the same commit changes no file.
    git(repo, "switch", "-q", "-c", "same")
    assert not queued(cq)
    # A file checkout names no files: every tracked file is compared with the index.
    git(repo, "checkout", "other", "--", "README.md")
    assert queued(cq) == {"README.md"}
    document_all(cq)
    git(repo, "checkout", "--", "README.md")  # nothing changed on disk since: nothing queued
    git(repo, "checkout", "HEAD", "--", "README.md")
    assert queued(cq) == {"README.md"}  # back to main's content, which differs from other's
    document_all(cq)
    # Detached HEAD: checkout and commit work the same.
    git(repo, "checkout", "-q", "--detach", "other")
    assert queued(cq) == {"only_other.py", "README.md"}
    document_all(cq)
    write(repo, "detached.py", "X = 1\n")
    commit(repo, "on a detached head")
    assert queued(cq) == {"detached.py"}
    assert len(_post_runs(repo)) - before == 8  # 7 checkouts and a commit: one run each


def test_rebase_queues_the_work_tree_change(cq: Cq, repo: Path) -> None:
    setup_hooks(cq)
    git(repo, "switch", "-q", "-c", "topic")
    write(repo, "topic_1.py", "T1 = 1\n")
    commit(repo)
    write(repo, "topic_2.py", "T2 = 2\n")
    commit(repo)
    git(repo, "switch", "-q", "main")
    write(repo, "upstream.py", "U = 1\n")
    write(repo, "README.md", "# upstream readme\n")
    commit(repo)
    git(repo, "switch", "-q", "topic")
    document_all(cq)
    git(repo, "rebase", "-q", "main")
    assert queued(cq) == {"upstream.py", "README.md"}
    names = [ln.split("[")[0].split()[-1] for ln in done_lines(repo)]
    assert "post-rewrite" in names
    assert any("[rebase: " in ln for ln in done_lines(repo))


def test_cherry_pick_of_several_commits_queues_each_commits_files(cq: Cq, repo: Path) -> None:
    # git makes the commits faster than the background jobs start: each must name its own.
    setup_hooks(cq)
    git(repo, "switch", "-q", "-c", "picks")
    for i in range(4):
        write(repo, f"pick_{i}.py", f"P{i} = {i}\n")
        commit(repo)
    git(repo, "switch", "-q", "main")
    document_all(cq)
    git(repo, "cherry-pick", "main..picks")
    assert queued(cq) == {f"pick_{i}.py" for i in range(4)}


def test_paths_with_spaces_and_non_utf8_bytes(cq: Cq, repo: Path) -> None:
    setup_hooks(cq)
    write(repo, "dir with space/a file.py", "def spaced():\n    pass\n")
    raw = os.fsencode(repo) + b"/caf\xe9.py"
    with open(raw, "wb") as fh:
        fh.write(b"def latin():\n    pass\n")
    commit(repo)
    assert queued(cq) == {"dir with space/a file.py", "caf\\xe9.py"}
    cq.run("queue", "process")
    assert searchable(cq, "spaced") == {"dir with space/a file.py"}
    assert searchable(cq, "latin") == {"caf\\xe9.py"}
    os.unlink(raw)
    commit(repo)
    assert "caf\\xe9.py" not in jobs(cq)


def _delay_of(repo: Path, rel: str) -> float:
    with sqlite3.connect(repo / ".code-query" / "index.db") as conn:
        queued_at, not_before = conn.execute(
            "SELECT queued_at, not_before FROM jobs WHERE path = ?", (rel,)
        ).fetchone()
    return float(not_before - queued_at)


def test_delay_seconds_is_for_the_llm_documenter_only(cq: Cq, repo: Path) -> None:
    setup_hooks(cq, delay=300)
    # The static documenter (the default) costs milliseconds: a commit's work runs at once.
    write(repo, "now.py", "N = 1\n")
    commit(repo)
    assert _delay_of(repo, "now.py") == 0
    assert "due in" not in done_lines(repo)[-1]
    # An LLM command: the delay coalesces bursts of commits to save calls, and shows as such.
    cq.run("config", "set", "processor.command", '["never-run-here"]')
    cq.run("config", "set", "processor.kind", "command")
    write(repo, "later.py", "L = 1\n")
    commit(repo)
    assert _delay_of(repo, "later.py") == pytest.approx(300, abs=1)
    assert "(due in 300 s)" in done_lines(repo)[-1]
    st = cq.json("status")
    assert st["queue"]["delayed"] == 1 and 290 < st["queue"]["nextDueS"] <= 300
    assert "1 delayed (due in 5 min)" in st["message"]
    assert "1 queued · 1 delayed" in st["message"]  # now.py waits for `queue process`
    jobs_ = {j["path"]: j for j in cq.json("queue", "list")["jobs"]}
    assert jobs_["later.py"]["state"] == "delayed" and jobs_["later.py"]["due_at"]
    assert "due_at" not in jobs_["now.py"]
    assert [j["path"] for j in cq.json("queue", "list", "--state", "delayed")["jobs"]] == [
        "later.py"
    ]
    assert "later.py" not in {
        j["path"] for j in cq.json("queue", "list", "--state", "queued")["jobs"]
    }
    shown = cq.run("queue", "list").stdout
    assert "delayed" in shown and "due " in shown
    # `queue process` does not wait for the delay (the job runs — and fails: the command
    # named here does not exist, which is all this test needs).
    cq.run("queue", "process", check=False)
    assert jobs(cq)["later.py"]["attempts"] >= 1
    assert cq.json("status")["queue"]["delayed"] == 0


# -- work trees, clones, hooksPath ---------------------------------------------------------------


def test_linked_worktree_shares_hooks_keeps_its_own_index(cq_factory: Any, repo: Path) -> None:
    main = cq_factory(repo)
    setup_hooks(main)
    wt = repo.parent / "wt"
    git(repo, "worktree", "add", "-q", "-b", "feature", str(wt))
    # No .code-query/ there (ignored by git): the shim queued nothing and noted why, once.
    note = repo / ".git" / "worktrees" / "wt" / "cq-lsp-hooks.log"
    assert "no .code-query/" in note.read_text()
    status = main.json("hooks", "status", cwd=wt)
    assert status["installed"] and status["hooksDir"] == str(repo / ".git" / "hooks")
    assert status["notInitializedNote"] == str(note)
    other = cq_factory(wt)
    other.run("init")
    other.run("config", "set", "processing.mode", "manual")
    other.run("config", "set", "processing.delay_seconds", "0")
    write(wt, "wt_only.py", "W = 1\n")
    commit(wt)
    assert queued(other) == {"wt_only.py"}
    assert "wt_only.py" not in jobs(main)
    assert len(done_lines(repo)) == 0


def test_worktree_add_and_clone_with_committed_config_queue_every_file(
    cq_factory: Any, repo: Path, tmp_path: Path
) -> None:
    main = cq_factory(repo)
    setup_hooks(main)
    commit(repo, "share the config", ".code-query/config.json")
    wt = tmp_path / "wt2"
    git(repo, "worktree", "add", "-q", "--detach", str(wt))  # post-checkout from 000…0
    settle(wt)
    tracked = {"billing/invoice.py", "billing/render.ts", "README.md", "src/shipping/rates.go"}
    assert queued(cq_factory(wt)) == tracked
    clone = tmp_path / "clone"
    hooks = str(repo / ".git" / "hooks")
    subprocess.run(
        ["git", "clone", "-q", "-c", f"core.hooksPath={hooks}", str(repo), str(clone)],
        check=True,
        capture_output=True,
    )
    settle(clone)
    assert queued(cq_factory(clone)) == tracked


def test_core_hooks_path_and_a_chained_hook_restored_byte_for_byte(cq: Cq, repo: Path) -> None:
    cq.run("init")
    cq.run("config", "set", "processing.mode", "manual")
    cq.run("config", "set", "processing.delay_seconds", "0")
    hooks = repo / ".githooks"
    hooks.mkdir()
    run_git(repo, "config", "core.hooksPath", ".githooks")
    # The user's hooks record their arguments and stdin; post-checkout fails on purpose.
    user_hook = (
        "#!/bin/sh\n"
        '# my own hook\nprintf "%s|" "$0" "$@" >> "$PWD/.user-hook-ran"\n'
        'cat >> "$PWD/.user-hook-stdin"\n'
    )
    for hook in ("post-commit", "post-rewrite", "post-checkout"):
        tail = "exit 3\n" if hook == "post-checkout" else ""
        (hooks / hook).write_text(user_hook + tail)
        os.chmod(hooks / hook, 0o750)
    originals = {
        h: ((hooks / h).read_bytes(), (hooks / h).stat().st_mode)
        for h in HOOK_NAMES
        if (hooks / h).exists()
    }
    out = cq.json("hooks", "install")
    assert out["hooksDir"] == str(hooks)
    actions = {h["name"]: h["action"] for h in out["hooks"]}
    assert actions == {
        "post-commit": "chained",
        "post-rewrite": "chained",
        "post-checkout": "chained",
        "post-merge": "installed",
        "post-index-change": "installed",
    }
    assert any("inside the work tree" in n for n in out["notes"])
    write(repo, "x.py", "X = 1\n")
    git(repo, "add", "x.py")
    git(repo, "commit", "-q", "-m", "x")
    assert queued(cq) == {"x.py"}
    assert "post-commit.cq-lsp-chained|" in (repo / ".user-hook-ran").read_text()
    # The chained post-rewrite gets git's stdin unchanged; its arguments too.
    old = run_git(repo, "rev-parse", "HEAD").strip()
    git(repo, "commit", "-q", "--amend", "-m", "x2")
    new = run_git(repo, "rev-parse", "HEAD").strip()
    assert (repo / ".user-hook-stdin").read_text().endswith(f"{old} {new}\n")
    assert "post-rewrite.cq-lsp-chained|amend|" in (repo / ".user-hook-ran").read_text()
    # The chained hook's failure still fails `git switch`, as it did before we came.
    proc = subprocess.run(["git", "-C", str(repo), "switch", "-q", "-c", "b"], capture_output=True)
    settle(repo)
    assert proc.returncode == 1
    st = cq.json("hooks", "status")
    assert st["hooksPath"] == ".githooks" and st["installed"]
    assert {h["name"] for h in st["hooks"] if h["chained"]} == {
        "post-commit",
        "post-rewrite",
        "post-checkout",
    }
    cq.json("hooks", "uninstall")
    for hook, (data, mode) in originals.items():
        assert (hooks / hook).read_bytes() == data
        assert (hooks / hook).stat().st_mode == mode
    assert sorted(p.name for p in hooks.iterdir()) == sorted(originals)


def test_an_older_shim_is_upgraded_in_place(cq: Cq, repo: Path) -> None:
    cq.run("init")
    hooks = repo / ".git" / "hooks"
    old = (
        "#!/bin/sh\n# cq-lsp-hook-shim v0 post-commit\n"
        "git diff-tree --root --no-commit-id --name-only -r -z HEAD | xargs -0 cq-lsp queue add\n"
    )
    (hooks / "post-commit").write_text(old)
    os.chmod(hooks / "post-commit", 0o755)
    (hooks / "post-commit.cq-lsp-chained").write_text("#!/bin/sh\ntrue\n")
    os.chmod(hooks / "post-commit.cq-lsp-chained", 0o755)
    # Another Python installed this one: re-installing names ours.
    other = render_shim("post-merge", "/usr/bin/python3")
    (hooks / "post-merge").write_text(other)
    st = cq.json("hooks", "status")
    states = {h["name"]: h["state"] for h in st["hooks"]}
    assert states["post-commit"] == "outdated" and states["post-merge"] == "installed"
    out = cq.json("hooks", "install")
    actions = {h["name"]: h["action"] for h in out["hooks"]}
    assert actions["post-commit"] == "upgraded" and actions["post-merge"] == "upgraded"
    assert (hooks / "post-commit").read_text() == render_shim(
        "post-commit", os.path.abspath(sys.executable)
    )
    assert (hooks / "post-commit.cq-lsp-chained").read_text() == "#!/bin/sh\ntrue\n"
    assert cq.json("hooks", "status")["installed"]


# -- the edges: skip, Python gone, not initialized, logs ----------------------------------------


def test_skip_env_turns_ours_off_but_not_a_chained_hook(
    cq: Cq, repo: Path, isolated_env: dict
) -> None:
    cq.run("init")
    hooks = repo / ".git" / "hooks"
    (hooks / "post-commit").write_text('#!/bin/sh\ntouch "$PWD/.chained-ran"\n')
    os.chmod(hooks / "post-commit", 0o755)
    cq.run("config", "set", "processing.mode", "manual")
    cq.run("hooks", "install")
    write(repo, "skipped.py", "S = 1\n")
    git(repo, "add", "skipped.py")
    git(repo, "commit", "-q", "-m", "s", env={**isolated_env, "CQ_LSP_SKIP_HOOKS": "1"})
    assert (repo / ".chained-ran").exists()
    assert queued(cq) == set() and log_lines(repo) == []
    assert cq.json("hooks", "status")["installed"]


def test_python_gone_is_logged_and_git_succeeds(
    cq: Cq, repo: Path, tmp_path: Path, isolated_env: dict
) -> None:
    # A second interpreter that can import cq_lsp: a venv whose site dir adds ours.
    venv = tmp_path / "venv"
    subprocess.run([sys.executable, "-m", "venv", "--without-pip", str(venv)], check=True)
    site = subprocess.run(
        [
            str(venv / "bin" / "python"),
            "-c",
            "import sysconfig; print(sysconfig.get_path('purelib'))",
        ],
        check=True,
        capture_output=True,
        text=True,
    ).stdout.strip()
    ours = subprocess.run(
        [sys.executable, "-c", "import sysconfig; print(sysconfig.get_path('purelib'))"],
        check=True,
        capture_output=True,
        text=True,
    ).stdout.strip()
    Path(site, "cq_lsp_test.pth").write_text(f"import site; site.addsitedir({ours!r})\n")
    cq.run("init")
    cq.run("config", "set", "processing.mode", "manual")
    py = str(venv / "bin" / "python")
    subprocess.run(
        [py, "-m", "cq_lsp", "hooks", "install"],
        cwd=repo,
        env=isolated_env,
        check=True,
        capture_output=True,
    )
    assert f"PY='{py}'" in (repo / ".git" / "hooks" / "post-commit").read_text()
    write(repo, "first.py", "F = 1\n")
    commit(repo)
    assert queued(cq) == {"first.py"}  # the other Python works
    import shutil

    shutil.rmtree(venv)
    write(repo, "second.py", "S = 2\n")
    commit(repo)  # exits 0
    assert "second.py" not in jobs(cq)
    assert any(
        f"{py}, the Python that installed this hook, is gone" in ln for ln in log_lines(repo)
    )
    st = cq.json("hooks", "status")
    assert {h["state"] for h in st["hooks"]} == {"python-gone"}
    cq.run("hooks", "install")
    assert cq.json("hooks", "status")["installed"]


def test_not_initialized_repository_is_left_alone(cq: Cq, repo: Path) -> None:
    cq.run("hooks", "install")
    write(repo, "a.py", "A = 1\n")
    commit(repo)
    assert not (repo / ".code-query").exists()
    note = repo / ".git" / "cq-lsp-hooks.log"
    assert "no .code-query/" in note.read_text()
    # By hand (or from pre-commit) the command says so on stderr and exits 0.
    proc = cq.run("hook", "post-commit")
    assert proc.returncode == 0 and "has no .code-query/" in proc.stderr


def test_hooks_log_is_rotated(cq: Cq, repo: Path) -> None:
    setup_hooks(cq)
    log = repo / ".code-query" / "logs" / "hooks.log"
    log.write_text("old line\n" * 150_000)  # 1.35 MB
    write(repo, "r.py", "R = 1\n")
    commit(repo)
    rotated = log.with_name("hooks.log.1")
    assert rotated.read_text().startswith("old line\n")
    assert len(done_lines(repo)) == 1 and log.stat().st_size < 10_000


def test_two_hooks_at_once_lose_nothing(cq: Cq, repo: Path, isolated_env: dict) -> None:
    setup_hooks(cq)
    base = run_git(repo, "rev-parse", "HEAD").strip()
    heads = []
    for i in range(6):
        git(repo, "switch", "-q", "-c", f"b{i}", base)
        write(repo, f"branch_{i}.py", f"B{i} = {i}\n")
        commit(repo)
        heads.append(run_git(repo, "rev-parse", "HEAD").strip())
    git(repo, "switch", "-q", "main")
    document_all(cq)
    # Six post-checkout runs at the same moment, each naming another commit's files.
    for i in range(6):
        write(repo, f"branch_{i}.py", f"B{i} = {i}\n")
    env = {**isolated_env, "CQ_LSP_HOOK_DETACHED": "1"}
    procs = [
        subprocess.Popen(
            [sys.executable, "-m", "cq_lsp", "hook", "post-checkout", base, head, "1"],
            cwd=repo,
            env=env,
            stdout=subprocess.DEVNULL,
            stderr=subprocess.PIPE,
        )
        for head in heads
    ]
    for p in procs:
        p.wait(timeout=60)
    assert queued(cq) == {f"branch_{i}.py" for i in range(6)}
    # And a burst of commits whose hooks overlap in the background.
    for i in range(5):
        write(repo, f"burst_{i}.py", f"X{i} = {i}\n")
        subprocess.run(["git", "-C", str(repo), "add", f"burst_{i}.py"], check=True)
        subprocess.run(["git", "-C", str(repo), "commit", "-q", "-m", f"burst {i}"], check=True)
    settle(repo)
    assert {f"burst_{i}.py" for i in range(5)} <= queued(cq)


def test_hook_path_imports_no_language_server(cq: Cq, repo: Path, isolated_env: dict) -> None:
    setup_hooks(cq)
    write(repo, "imp.py", "I = 1\n")
    git(repo, "add", "imp.py")
    git(repo, "commit", "-q", "-m", "i", env={**isolated_env, "CQ_LSP_SKIP_HOOKS": "1"})
    proc = subprocess.run(
        [sys.executable, "-X", "importtime", "-I", "-m", "cq_lsp", "hook", "post-commit"],
        cwd=repo,
        env={**isolated_env, "CQ_LSP_HOOK_DETACHED": "1"},
        capture_output=True,
        text=True,
        check=True,
    )
    imported = {ln.split("|")[-1].strip() for ln in proc.stderr.splitlines() if "|" in ln}
    assert "cq_lsp.githooks.entry" in imported and "cq_lsp.core.workspace" in imported
    assert not {m for m in imported if m.split(".")[0] in ("pygls", "lsprotocol")}
    assert queued(cq) == {"imp.py"}


def test_hook_run_by_another_tool_detaches_and_reads_pre_commit_variables(
    cq: Cq, repo: Path, isolated_env: dict
) -> None:
    setup_hooks(cq)
    base = run_git(repo, "rev-parse", "HEAD").strip()
    git(repo, "switch", "-q", "-c", "pc")
    write(repo, "pc.py", "P = 1\n")
    git(repo, "add", "pc.py")
    git(repo, "commit", "-q", "-m", "p", env={**isolated_env, "CQ_LSP_SKIP_HOOKS": "1"})
    head = run_git(repo, "rev-parse", "HEAD").strip()
    # What pre-commit's post-checkout stage sets for a `language: system` hook.
    env = {
        **isolated_env,
        "PRE_COMMIT": "1",
        "PRE_COMMIT_FROM_REF": base,
        "PRE_COMMIT_TO_REF": head,
        "PRE_COMMIT_CHECKOUT_TYPE": "1",
    }
    out = json.loads(
        subprocess.run(
            [sys.executable, "-m", "cq_lsp", "hook", "post-commit", "--json"],
            cwd=repo,
            env=env,
            capture_output=True,
            text=True,
            check=True,
        ).stdout
    )
    assert out["detached"] is True and out["hook"] == "post-checkout"
    assert out["args"] == [base, head, "1"]
    wait_until(lambda: done_lines(repo))
    settle(repo)
    assert queued(cq) == {"pc.py"}
    assert "post-checkout[" in done_lines(repo)[-1]


# -- auto mode: a worker, or the hook itself ----------------------------------------------------


def test_auto_mode_committed_file_becomes_searchable(cq: Cq, repo: Path) -> None:
    setup_hooks(cq, mode="auto", delay=0)
    write(repo, "freshly.py", "def committed_and_found():\n    return 1\n")
    commit(repo)
    wait_until(lambda: searchable(cq, "committed_and_found") == {"freshly.py"}, timeout=60)
    assert cq.json("worker", "status")["state"] in ("running", "starting")
    assert "worker started" in done_lines(repo)[-1]


def test_fallback_to_sync_documents_in_the_hook_when_the_queue_is_down(cq: Cq, repo: Path) -> None:
    setup_hooks(cq, mode="auto", delay=300)
    # A Redis queue nobody listens on (port 9 on the loopback: discard, closed here).
    cq.run("config", "set", "queue.url", "redis://127.0.0.1:9/0")
    cq.run("config", "set", "queue.backend", "redis")
    write(repo, "synced.py", "def documented_by_the_hook():\n    pass\n")
    commit(repo)
    assert searchable(cq, "documented_by_the_hook") == {"synced.py"}
    assert jobs(cq)["synced.py"]["state"] == "done"
    last = done_lines(repo)[-1]
    assert "documented 1 of 1 in the hook process" in last
    assert any("the queue is unreachable" in ln for ln in log_lines(repo))
    # queue_timeout bounds the work: with 0 s nothing is started, and the job waits, queued.
    cq.run("config", "set", "processing.queue_timeout", "0")
    write(repo, "bounded.py", "B = 1\n")
    commit(repo)
    assert jobs(cq)["bounded.py"]["state"] == "queued"
    assert "documented 0 of 1 in the hook process; 1 left queued" in done_lines(repo)[-1]
    # With fallback_to_sync off the job stays queued, safe in the ledger.
    cq.run("config", "set", "processing.fallback_to_sync", "false")
    write(repo, "waits.py", "W = 1\n")
    commit(repo)
    assert jobs(cq)["waits.py"]["state"] == "queued"
    assert "fallback_to_sync is off" in done_lines(repo)[-1]


def test_fallback_when_no_worker_can_start(cq: Cq, repo: Path) -> None:
    setup_hooks(cq, mode="auto", delay=0)
    # Something that is not our worker holds the worker lock: a worker cannot run.
    holder = subprocess.Popen(
        [
            sys.executable,
            "-c",
            "import fcntl, sys, time; f = open(sys.argv[1], 'a+');"
            " fcntl.flock(f, fcntl.LOCK_EX); print('locked', flush=True); time.sleep(120)",
            str(repo / ".code-query" / "worker.lock"),
        ],
        stdout=subprocess.PIPE,
        text=True,
    )
    try:
        assert holder.stdout is not None and holder.stdout.readline().strip() == "locked"
        write(repo, "lockedout.py", "def no_worker_here():\n    pass\n")
        commit(repo)
        assert searchable(cq, "no_worker_here") == {"lockedout.py"}
        assert "no worker could start" in " ".join(log_lines(repo))
    finally:
        holder.kill()
        holder.wait()


# -- hook arguments are commit names, never git options (issue 12, item 3) ------------------------


def test_hook_arguments_that_look_like_options_never_reach_git(
    cq: Cq, repo: Path, isolated_env: dict[str, str], tmp_path: Path
) -> None:
    setup_hooks(cq)
    write(repo, "later.py", "L = 1\n")
    commit(repo, "later")
    base = {**isolated_env, "CQ_LSP_HOOK_DETACHED": "1"}
    runs: list[tuple[list[str], dict[str, str], str | None]] = [
        (["post-checkout", "--", f"--output={tmp_path}/x1", "HEAD~1", "1"], {}, None),
        (["post-checkout", "--", "HEAD~1", f"--output={tmp_path}/x2", "1"], {}, None),
        (
            ["post-checkout"],
            {
                "PRE_COMMIT": "1",
                "PRE_COMMIT_CHECKOUT_TYPE": "1",
                "PRE_COMMIT_FROM_REF": f"--output={tmp_path}/x3",
                "PRE_COMMIT_TO_REF": "HEAD",
            },
            None,
        ),
        (["post-rewrite", "amend"], {}, f"--output={tmp_path}/x4 HEAD\n"),
    ]
    for args, extra, stdin in runs:
        proc = subprocess.run(
            [sys.executable, "-m", "cq_lsp", "hook", *args],
            cwd=repo,
            env={**base, **extra},
            input=stdin,
            capture_output=True,
            text=True,
            timeout=120,
        )
        assert proc.returncode == 0, proc.stderr
        assert "looks like an option, not a commit" in proc.stderr, (args, proc.stderr)
    assert sorted(p.name for p in tmp_path.iterdir() if p.name.startswith("x")) == []
    # The same hook with real commit names still works.
    proc = subprocess.run(
        [sys.executable, "-m", "cq_lsp", "hook", "post-checkout", "HEAD~1", "HEAD", "1"],
        cwd=repo,
        env=base,
        capture_output=True,
        text=True,
        timeout=120,
    )
    assert "later.py" in queued(cq), proc.stderr
